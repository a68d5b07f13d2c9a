// cpprestsdk implementation of the HTTP interfaces.
#include <cpprest/http_client.h>
#include <cpprest/http_listener.h>

#include "api/http.h"

namespace kvlb::api {
namespace {

namespace http = web::http;

class CpprestServer final : public HttpServer {
 public:
  explicit CpprestServer(std::string listen) : listen_(std::move(listen)) {}
  ~CpprestServer() override { stop(); }

  void handle_get(const std::string& path, HttpHandler handler) override { routes_[path] = std::move(handler); }

  Status start() override {
    try {
      listener_ = std::make_unique<http::experimental::listener::http_listener>(U("http://" + listen_));
      listener_->support(http::methods::GET, [this](http::http_request request) { serve(std::move(request)); });
      listener_->open().wait();
      return ok_status();
    } catch (const std::exception& e) {
      listener_.reset();
      return Error::invalid("REST API listen on " + listen_ + ": " + e.what());
    }
  }

  void stop() override {
    if (!listener_) return;
    try {
      listener_->close().wait();
    } catch (const std::exception&) {
    }
    listener_.reset();
  }

 private:
  void serve(http::http_request request) {
    auto path = http::uri::decode(request.relative_uri().path());
    auto it = routes_.find(path);
    if (it == routes_.end()) {
      request.reply(http::status_codes::NotFound, "{\"error\":\"no such path: " + path + "\"}", "application/json");
      return;
    }
    Query query;
    for (const auto& [k, v] : http::uri::split_query(request.relative_uri().query())) query[k] = http::uri::decode(v);
    HttpResponse response;
    try {
      response = it->second(query);
    } catch (const std::exception& e) {
      response = {500, "application/json", std::string("{\"error\":\"") + e.what() + "\"}"};
    }
    request.reply(static_cast<http::status_code>(response.status), response.body, response.content_type);
  }

  std::string listen_;
  std::map<std::string, HttpHandler> routes_;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
};

class CpprestClient final : public HttpClient {
 public:
  explicit CpprestClient(const std::string& base) : base_(base) {
    http::client::http_client_config config;
    config.set_timeout(std::chrono::seconds(10));
    client_ = std::make_unique<http::client::http_client>(U(base), config);
  }

  Result<HttpResponse> get(const std::string& path_and_query) override {
    try {
      auto response = client_->request(http::methods::GET, U(path_and_query)).get();
      HttpResponse out;
      out.status = response.status_code();
      out.content_type = response.headers().content_type();
      out.body = response.extract_utf8string(true).get();
      return out;
    } catch (const std::exception& e) {
      return Error{std::make_error_code(std::errc::connection_refused), "GET " + base_ + path_and_query + ": " + e.what()};
    }
  }

 private:
  std::string base_;
  std::unique_ptr<http::client::http_client> client_;
};

}  // namespace

std::unique_ptr<HttpServer> make_http_server(const std::string& listen) { return std::make_unique<CpprestServer>(listen); }

std::unique_ptr<HttpClient> make_http_client(const std::string& base) { return std::make_unique<CpprestClient>(base); }

}  // namespace kvlb::api
