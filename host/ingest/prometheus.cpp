// Prometheus' /api/v1/query_range -> Dataset, a window of steps per request.
#include "vigil/prometheus.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "io/http_client.hpp"
#include "vigil/error.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nlohmann::json;

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; }
bool is_name_char(char c) { return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Words of PromQL that are not metric names: keywords, and the aggregations, which may come
// before their parentheses (`sum by (job) (...)`). The grouping ones take a label list.
bool is_keyword(const std::string& word) {
  static const std::set<std::string> words = {
      "by",    "without", "on",    "ignoring", "group_left", "group_right", "bool",         "offset",
      "and",   "or",      "unless", "atan2",   "start",      "end",         "inf",          "nan",
      "sum",   "min",     "max",   "avg",      "group",      "stddev",      "stdvar",       "count",
      "count_values",     "bottomk", "topk",   "quantile"};
  std::string lower = word;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return words.count(lower) > 0;
}
bool takes_label_list(const std::string& word) {
  return word == "by" || word == "without" || word == "on" || word == "ignoring" || word == "group_left" ||
         word == "group_right";
}

// Index just past the string literal that starts at `i` (", ' or `; backslash escapes).
size_t skip_string(const std::string& q, size_t i) {
  const char quote = q[i++];
  while (i < q.size() && q[i] != quote) i += q[i] == '\\' && quote != '`' ? 2 : 1;
  return std::min(q.size(), i + 1);
}

// Index just past the bracket group that opens at `i`, skipping strings inside.
size_t skip_group(const std::string& q, size_t i, char open, char close) {
  int depth = 0;
  for (; i < q.size(); ++i) {
    if (q[i] == '"' || q[i] == '\'' || q[i] == '`') {
      i = skip_string(q, i) - 1;
    } else if (q[i] == open) {
      ++depth;
    } else if (q[i] == close && --depth == 0) {
      return i + 1;
    }
  }
  return q.size();
}

// `__name__="x"` inside a selector's braces, else empty.
std::string name_matcher(const std::string& braces) {
  const size_t at = braces.find("__name__");
  if (at == std::string::npos) return "";
  size_t i = at + 8;
  while (i < braces.size() && std::isspace(static_cast<unsigned char>(braces[i]))) ++i;
  if (i + 1 >= braces.size() || braces[i] != '=' || braces[i + 1] == '~') return "";
  ++i;
  while (i < braces.size() && std::isspace(static_cast<unsigned char>(braces[i]))) ++i;
  if (i >= braces.size() || braces[i] != '"') return "";
  const size_t close = braces.find('"', i + 1);
  return close == std::string::npos ? "" : braces.substr(i + 1, close - i - 1);
}

std::string prometheus_error(const http::Response& r) {
  try {
    const json doc = json::parse(r.body);
    if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
      std::string type = doc.value("errorType", "");
      return (type.empty() ? "" : type + ": ") + doc["error"].get<std::string>();
    }
  } catch (const json::exception&) {
  }
  std::string text = r.body.substr(0, 200);
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// A 422 the server gives when a request would load more than --query.max-samples.
bool too_many_samples(const http::Response& r) {
  return r.status == 422 && r.body.find("too many samples") != std::string::npos;
}

float sample_value(const json& v) {
  if (!v.is_string()) throw std::runtime_error("sample value is not a string");
  const std::string& text = v.get_ref<const std::string&>();
  char* end = nullptr;
  const double d = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) throw std::runtime_error("sample value '" + text + "' is not a number");
  return std::isfinite(d) ? static_cast<float>(d) : NAN;  // NaN and +-Inf: missing, as in a CSV
}

struct SeriesPoints {
  std::string metric;
  std::map<std::string, std::string> labels;  // without __name__
  std::vector<float> values;                  // [T]
  std::vector<uint8_t> observed;              // [T]
};

}  // namespace

std::string query_metric_name(const std::string& q) {
  for (size_t i = 0; i < q.size();) {
    const char c = q[i];
    if (c == '"' || c == '\'' || c == '`') {
      i = skip_string(q, i);
    } else if (c == '{') {
      const size_t end = skip_group(q, i, '{', '}');
      const std::string name = name_matcher(q.substr(i, end - i));
      if (!name.empty()) return name;
      i = end;
    } else if (c == '[') {
      i = skip_group(q, i, '[', ']');
    } else if (c == '#') {  // a comment runs to the end of the line
      while (i < q.size() && q[i] != '\n') ++i;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < q.size() && (is_name_char(q[i]) || q[i] == '.')) ++i;  // 1.5, 1e3, 5m
    } else if (is_name_start(c)) {
      size_t j = i;
      while (j < q.size() && is_name_char(q[j])) ++j;
      const std::string word = q.substr(i, j - i);
      size_t k = j;
      while (k < q.size() && std::isspace(static_cast<unsigned char>(q[k]))) ++k;
      if (is_keyword(word)) {
        if (takes_label_list(word) && k < q.size() && q[k] == '(') j = skip_group(q, k, '(', ')');
      } else if (k >= q.size() || q[k] != '(') {
        return word;  // not a function or aggregation: a metric name
      }
      i = j;
    } else {
      ++i;
    }
  }
  return "";
}

Dataset read_prometheus(const PrometheusQuery& pq, const IngestOptions& options) {
  const std::string base = http::trim_base_url(pq.url);
  const std::string source = "prometheus " + base;
  if (pq.step <= 0) throw InputError(source + ": --step must be positive");
  if (pq.end < pq.start) throw InputError(source + ": --end is before --start");
  // Evaluating on multiples of the step lands on the samples of data written on that grid
  // (backfilled blocks, a cube): an unaligned start reads each point up to a step late, or,
  // past the 5-minute lookback, not at all (an empty answer).
  const int64_t step = pq.step;
  const int64_t start = pq.start >= 0 ? pq.start / step * step : -((-pq.start + step - 1) / step) * step;
  const size_t T = static_cast<size_t>((pq.end - start) / step) + 1;
  const std::string fallback_metric = query_metric_name(pq.query);

  http::Request request;
  request.method = "POST";
  request.url = base + "/api/v1/query_range";
  request.timeout_seconds = pq.timeout_seconds;
  request.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  if (!pq.bearer_token.empty()) request.headers.push_back("Authorization: Bearer " + pq.bearer_token);
  http::RetryPolicy retry;
  retry.retries = pq.retries;
  retry.first_delay_seconds = pq.first_retry_delay_seconds;

  std::map<std::vector<std::pair<std::string, std::string>>, SeriesPoints> series;  // by all labels
  int64_t window = std::max<int64_t>(
      1, std::min<int64_t>({pq.max_steps_per_request, 10000, static_cast<int64_t>(T)}));
  for (size_t t0 = 0; t0 < T;) {
    const size_t t1 = std::min(T, t0 + static_cast<size_t>(window));  // exclusive
    const int64_t from = start + static_cast<int64_t>(t0) * step, to = start + static_cast<int64_t>(t1 - 1) * step;
    request.body = "query=" + http::url_encode(pq.query) + "&start=" + std::to_string(from) +
                   "&end=" + std::to_string(to) + "&step=" + std::to_string(step);
    const http::Response r = http::perform_with_retries(request, retry);
    if (too_many_samples(r) && window > 1) {
      window = std::max<int64_t>(1, window / 2);
      continue;
    }
    if (r.status == 0 || r.status >= 500)
      throw ServiceError(source + ": " + http::describe_failure(r) +
                             (r.status >= 500 ? ": " + prometheus_error(r) : std::string()),
                         ServiceError::kInputUnreachable);
    if (r.status != 200)
      throw InputError(source + ": HTTP " + std::to_string(r.status) + " for the query from " + format_iso(from) +
                       " to " + format_iso(to) + ": " + prometheus_error(r));
    try {
      const json doc = json::parse(r.body);
      if (doc.value("status", "") != "success") throw std::runtime_error("status is not success");
      const json& data = doc.at("data");
      const std::string type = data.at("resultType").get<std::string>();
      if (type != "matrix") throw std::runtime_error("resultType is " + type + ", not matrix");
      for (const json& item : data.at("result")) {
        std::vector<std::pair<std::string, std::string>> key;
        for (auto it = item.at("metric").begin(); it != item.at("metric").end(); ++it)
          key.emplace_back(it.key(), it->get<std::string>());
        std::sort(key.begin(), key.end());
        SeriesPoints& s = series[key];
        if (s.values.empty()) {
          s.values.assign(T, NAN);
          s.observed.assign(T, 0);
          s.metric = fallback_metric;
          for (const auto& [name, value] : key) {
            if (name == "__name__") s.metric = value;
            else s.labels[name] = value;
          }
        }
        for (const json& point : item.at("values")) {
          const double ts = point.at(0).get<double>();
          const double k = std::round((ts - static_cast<double>(start)) / static_cast<double>(step));
          if (k < 0 || k >= static_cast<double>(T)) continue;
          s.values[static_cast<size_t>(k)] = sample_value(point.at(1));
          s.observed[static_cast<size_t>(k)] = 1;
        }
      }
    } catch (const std::exception& e) {  // json::exception and the checks above
      throw InputError(source + ": not a Prometheus query_range answer: " + e.what());
    }
    t0 = t1;
  }
  if (series.empty())
    throw InputError(source + ": the query returned no series from " + format_iso(start) + " to " +
                     format_iso(pq.end) + " (step " + format_duration(step) +
                     "); check the query, the time range, and that the step matches the data's interval");

  Dataset d;
  d.source = source;
  d.start = start;
  d.step = step;
  d.T = T;
  d.group_dim = options.group_dim;
  d.stack_dim = options.stack_dim;
  std::set<std::string> names;
  for (const auto& [key, s] : series)
    for (const auto& [name, value] : s.labels) names.insert(name);
  if (names.count(pq.metric_dim))
    throw InputError(source + ": the series have a label '" + pq.metric_dim +
                     "', which is also the metric dimension's name (set metric_dim in the config)");
  d.keys.dims.push_back(pq.metric_dim);
  d.keys.dims.insert(d.keys.dims.end(), names.begin(), names.end());
  const size_t D = d.keys.dims.size();
  std::vector<std::vector<std::string>> rows;  // per series: its value of each dimension
  std::vector<const SeriesPoints*> points;
  for (const auto& [key, s] : series) {
    std::vector<std::string> row{s.metric};
    for (size_t k = 1; k < D; ++k) {
      auto it = s.labels.find(d.keys.dims[k]);
      row.push_back(it == s.labels.end() ? std::string() : it->second);
    }
    rows.push_back(std::move(row));
    points.push_back(&s);
  }
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rows[a] < rows[b]; });
  for (size_t k = 0; k < rows.size(); ++k)
    if (k && rows[order[k]] == rows[order[k - 1]])
      throw InputError(source + ": two series with the same dimensions (" + rows[order[k]][0] +
                       "): their metric names differ only where a function dropped them");
  // Dictionaries in sorted order, as a generated cube has them.
  d.keys.dictionary.resize(D);
  for (size_t k = 0; k < D; ++k) {
    std::set<std::string> values;
    for (const auto& row : rows) values.insert(row[k]);
    for (const std::string& v : values) d.keys.intern(k, v);
  }
  const size_t N = rows.size();
  d.keys.codes.resize(N * D);
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < D; ++k) d.keys.codes[i * D + k] = static_cast<uint32_t>(d.keys.find_code(k, rows[order[i]][k]));
  d.values.assign(T * N, NAN);
  d.observed.assign(T * N, 0);
  bool all_observed = true;
  for (size_t i = 0; i < N; ++i) {
    const SeriesPoints& s = *points[order[i]];
    for (size_t t = 0; t < T; ++t) {
      d.values[t * N + i] = s.values[t];
      d.observed[t * N + i] = s.observed[t];
      all_observed = all_observed && s.observed[t];
    }
  }
  if (all_observed) d.observed.clear();
  return d;
}

}  // namespace vigil
