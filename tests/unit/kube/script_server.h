#pragma once
// A plain-HTTP server on 127.0.0.1 whose every connection is handled by a
// test-supplied script (raw socket writes, pauses, closes), to drive the
// cpprestsdk client through streaming, timeouts and errors without an apiserver.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kvlb::kube::testing {

struct HttpRequestSeen {
  std::string method;
  std::string target;  // path and query
  std::string headers;  // raw header block, lines "Name: value\r\n"
  std::string body;

  std::string header(const std::string& name) const {
    // case-insensitive on the name
    size_t pos = 0;
    while (pos < headers.size()) {
      size_t end = headers.find("\r\n", pos);
      if (end == std::string::npos) end = headers.size();
      std::string line = headers.substr(pos, end - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos && colon == name.size()) {
        bool same = true;
        for (size_t i = 0; i < colon; ++i)
          if (std::tolower(static_cast<unsigned char>(line[i])) != std::tolower(static_cast<unsigned char>(name[i])))
            same = false;
        if (same) {
          size_t v = colon + 1;
          while (v < line.size() && line[v] == ' ') ++v;
          return line.substr(v);
        }
      }
      pos = end + 2;
    }
    return "";
  }
};

class ScriptConnection {
 public:
  explicit ScriptConnection(int fd) : fd_(fd) {}
  bool send(const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  bool send_chunk(const std::string& data) {
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", data.size());
    return send(len + data + "\r\n");
  }
  bool end_chunks() { return send("0\r\n\r\n"); }
  void close_now() { ::shutdown(fd_, SHUT_RDWR); }
  bool chunked_headers(int status = 200) {
    return send("HTTP/1.1 " + std::to_string(status) +
                " OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  }
  bool respond(int status, const std::string& body, const std::string& reason = "OK") {
    return send("HTTP/1.1 " + std::to_string(status) + " " + reason +
                "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
                body);
  }
  // True once the peer has closed (waits up to ms).
  bool peer_closed(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    ssize_t n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_;
};

class ScriptServer {
 public:
  using Script = std::function<void(const HttpRequestSeen&, ScriptConnection&)>;

  explicit ScriptServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof addr;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~ScriptServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::vector<std::thread> handlers;
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      handlers.swap(handlers_);
    }
    for (auto& t : handlers) t.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  std::vector<HttpRequestSeen> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      std::lock_guard lock(mu_);
      open_fds_.push_back(fd);
      handlers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buffer;
    char tmp[4096];
    // Several requests may come over one kept-alive connection.
    while (true) {
      size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return finish(fd);
        buffer.append(tmp, static_cast<size_t>(n));
      }
      HttpRequestSeen req;
      std::string head = buffer.substr(0, header_end + 2);
      size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      auto sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
      req.method = request_line.substr(0, sp1);
      req.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      req.headers = head.substr(line_end + 2);
      buffer.erase(0, header_end + 4);
      size_t length = 0;
      if (auto cl = req.header("Content-Length"); !cl.empty()) length = std::stoul(cl);
      while (buffer.size() < length) {
        ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
        if (n <= 0) return finish(fd);
        buffer.append(tmp, static_cast<size_t>(n));
      }
      req.body = buffer.substr(0, length);
      buffer.erase(0, length);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      ScriptConnection conn(fd);
      script_(req, conn);
      if (closing_after_script_) return finish(fd);
    }
  }

  void finish(int fd) {
    std::lock_guard lock(mu_);
    ::close(fd);
    std::erase(open_fds_, fd);
  }

  Script script_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  bool closing_after_script_ = false;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> handlers_;
  std::vector<int> open_fds_;
  std::vector<HttpRequestSeen> requests_;
};

}  // namespace kvlb::kube::testing
