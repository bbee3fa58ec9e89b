#pragma once
// A small HTTP client (libcurl) for the monitoring-stack connectors: Prometheus' query API and
// Alertmanager's alerts API. TLS, proxies (http_proxy/https_proxy) and redirects come from libcurl.
#include <string>
#include <vector>

namespace vigil::http {

struct Request {
  std::string method = "GET";  // GET or POST
  std::string url;
  std::string body;                  // POST only
  std::vector<std::string> headers;  // "Name: value"
  double timeout_seconds = 60;
};

struct Response {
  long status = 0;    // 0: no HTTP answer (connection refused, timeout, TLS failure...)
  std::string body;
  std::string error;  // libcurl's message when status == 0
  int attempts = 0;   // requests made (with retries)
};

// One request; never throws on a network failure (status 0 and `error` say what happened).
Response perform(const Request& request);

// How long to keep trying a server that refuses connections or answers 5xx.
struct RetryPolicy {
  int retries = 3;                  // further attempts after the first
  double first_delay_seconds = 1;   // doubled after each failed attempt
  double max_delay_seconds = 30;
};

// perform() until the server answers something other than a 5xx, or the retries are spent
// (the last response is returned). 4xx are never retried: asking again will not change them.
Response perform_with_retries(const Request& request, const RetryPolicy& policy);

// "a%20b" for form bodies and query strings.
std::string url_encode(const std::string& text);
// The base URL without trailing slashes, so "http://host:9090/" + "/api/v1/..." is well formed.
std::string trim_base_url(const std::string& url);
// "HTTP 503" or "connection refused: <libcurl message>", for error lines.
std::string describe_failure(const Response& response);

}  // namespace vigil::http
