#pragma once
// Servers for the monitoring-stack tests: a tiny HTTP server the test scripts (a fake
// Prometheus answering 5xx or 422, a webhook receiver for Alertmanager), free ports, and real
// server processes (prometheus, alertmanager) started on 127.0.0.1 and stopped with the test.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "io/http_client.hpp"

extern char** environ;

namespace vigil::test {

// A port nobody listens on right now (bound once by the kernel's choice, then released).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

// The absolute path of an installed program, or "" (the test then skips, saying so).
inline std::string find_program(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    const std::string path = std::string(dir) + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

struct HttpExchange {
  std::string method, target, body;
  std::vector<std::string> headers;  // "name: value" as received
  int status = 200;
  std::string reply = "{}";
  std::string content_type = "application/json";
};

// One-thread HTTP/1.1 server on 127.0.0.1 (Connection: close; Content-Length bodies). The
// handler fills status/reply; every exchange is recorded.
class HttpStub {
 public:
  explicit HttpStub(std::function<void(HttpExchange&)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ::listen(fd_, 16);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpStub() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<HttpExchange> exchanges() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return exchanges_;
  }

 private:
  void serve() {
    while (!stop_) {
      const int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) {
        if (stop_) return;
        continue;
      }
      timeval timeout{5, 0};
      ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
      std::string data;
      char buffer[65536];
      size_t header_end = std::string::npos, length = 0;
      while (true) {
        const ssize_t n = ::recv(client, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        data.append(buffer, static_cast<size_t>(n));
        if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
          std::string lower = data.substr(0, header_end);
          for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          const size_t at = lower.find("content-length:");
          if (at != std::string::npos) length = std::stoul(lower.substr(at + 15));
        }
        if (header_end != std::string::npos && data.size() >= header_end + 4 + length) break;
      }
      HttpExchange ex;
      if (header_end != std::string::npos) {
        const std::string head = data.substr(0, header_end);
        size_t line_end = head.find("\r\n");
        const std::string request_line = head.substr(0, line_end);
        const size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
        ex.method = request_line.substr(0, sp1);
        ex.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
        while (line_end != std::string::npos && line_end < head.size()) {
          const size_t next = head.find("\r\n", line_end + 2);
          ex.headers.push_back(head.substr(line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2));
          line_end = next;
        }
        ex.body = data.substr(header_end + 4);
        handler_(ex);
      } else {
        ex.status = 400;
      }
      const char* reason = ex.status == 200 ? "OK" : "Error";
      const std::string response = "HTTP/1.1 " + std::to_string(ex.status) + " " + reason +
                                   "\r\nContent-Type: " + ex.content_type + "\r\nContent-Length: " +
                                   std::to_string(ex.reply.size()) + "\r\nConnection: close\r\n\r\n" + ex.reply;
      {
        // Recorded before the reply goes out: a client that has its answer finds it recorded.
        std::lock_guard<std::mutex> lock(mutex_);
        exchanges_.push_back(ex);
      }
      ::send(client, response.data(), response.size(), MSG_NOSIGNAL);
      ::close(client);
    }
  }

  std::function<void(HttpExchange&)> handler_;
  int fd_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<HttpExchange> exchanges_;
};

// A server process, its output in `log`, terminated (SIGTERM, then SIGKILL) with the object.
class ServerProcess {
 public:
  ServerProcess(const std::vector<std::string>& argv, const std::string& log) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

// Polls `url` until it answers 200 (true) or `seconds` pass (false).
inline bool wait_until_ready(const std::string& url, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  http::Request request;
  request.url = url;
  request.timeout_seconds = 2;
  while (std::chrono::steady_clock::now() < deadline) {
    if (http::perform(request).status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Runs a shell command, returning its exit code and stdout.
inline std::pair<int, std::string> run_command(const std::string& command) {
  std::string out;
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {-1, ""};
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
  const int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace vigil::test
