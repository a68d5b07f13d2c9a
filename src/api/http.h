#pragma once
// kvlb's own small HTTP interfaces; cpprestsdk stays behind them (it is in
// maintenance mode and must be replaceable without touching callers).
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "util/result.h"

namespace kvlb::api {

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Query = std::map<std::string, std::string>;
using HttpHandler = std::function<HttpResponse(const Query& query)>;

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Routes are exact paths for GET; register them before start().
  virtual void handle_get(const std::string& path, HttpHandler handler) = 0;
  virtual Status start() = 0;
  virtual void stop() = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpResponse> get(const std::string& path_and_query) = 0;
};

// listen: "127.0.0.1:7711" or "[::1]:7711".
std::unique_ptr<HttpServer> make_http_server(const std::string& listen);
// base: "http://127.0.0.1:7711".
std::unique_ptr<HttpClient> make_http_client(const std::string& base);

}  // namespace kvlb::api
