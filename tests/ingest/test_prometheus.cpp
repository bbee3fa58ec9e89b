// The Prometheus reader against a scripted server: what it asks, how it splits, what it builds,
// and how `vigil score --prometheus` fails (exit code, one line, no output files).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "common/servers.hpp"
#include "common/test_util.hpp"
#include "vigil/error.hpp"
#include "vigil/prometheus.hpp"

namespace vigil {
namespace {

using nlohmann::json;

// Form fields of a POST body (a=1&b=2; %XX decoded).
std::map<std::string, std::string> form(const std::string& body) {
  std::map<std::string, std::string> fields;
  size_t i = 0;
  while (i <= body.size()) {
    size_t amp = body.find('&', i);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(i, amp - i);
    const size_t eq = pair.find('=');
    std::string value;
    const std::string raw = eq == std::string::npos ? "" : pair.substr(eq + 1);
    for (size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '%' && k + 2 < raw.size()) {
        value += static_cast<char>(std::stoi(raw.substr(k + 1, 2), nullptr, 16));
        k += 2;
      } else {
        value += raw[k] == '+' ? ' ' : raw[k];
      }
    }
    fields[pair.substr(0, eq)] = value;
    i = amp + 1;
  }
  return fields;
}

// A matrix answer: each series' value at time ts is f(series, ts), for every step of the request.
std::string matrix(const std::map<std::string, std::string>& request, const std::vector<json>& label_sets,
                   const std::function<std::string(size_t, long long)>& value) {
  const long long start = std::stoll(request.at("start")), end = std::stoll(request.at("end")),
                  step = std::stoll(request.at("step"));
  json result = json::array();
  for (size_t s = 0; s < label_sets.size(); ++s) {
    json values = json::array();
    for (long long ts = start; ts <= end; ts += step) {
      const std::string v = value(s, ts);
      if (!v.empty()) values.push_back({ts, v});
    }
    result.push_back({{"metric", label_sets[s]}, {"values", values}});
  }
  return json{{"status", "success"}, {"data", {{"resultType", "matrix"}, {"result", result}}}}.dump();
}

PrometheusQuery query_to(const test::HttpStub& stub) {
  PrometheusQuery q;
  q.url = stub.url() + "/";
  q.query = "rate(http_requests_total{job=\"api\"}[5m])";
  q.step = 60;
  q.start = 1'700'000'030;  // off the step: aligned down to 1'700'000'000 - 1'700'000'000 % 60
  q.end = q.start + 59 * 60;
  q.retries = 0;
  return q;
}

TEST(PrometheusQueryMetric, FindsTheSelectedMetricOutsideFunctionsLabelsAndStrings) {
  EXPECT_EQ(query_metric_name("rate(http_requests_total{job=\"api\"}[5m])"), "http_requests_total");
  EXPECT_EQ(query_metric_name("sum by (job, instance) (rate(node_cpu_seconds_total[1m]))"), "node_cpu_seconds_total");
  EXPECT_EQ(query_metric_name("{__name__=\"play_starts\", region=\"br\"}"), "play_starts");
  EXPECT_EQ(query_metric_name("histogram_quantile(0.99, sum without (pod) (rate(lat_bucket[5m])))"), "lat_bucket");
  EXPECT_EQ(query_metric_name("label_replace(up, \"x\", \"$1\", \"job\", \"(.*)\")"), "up");
  EXPECT_EQ(query_metric_name("vector(1)"), "");
  EXPECT_EQ(query_metric_name("{job=\"a\"}"), "");
}

TEST(PrometheusReader, BuildsTheDatasetFromLabelSetsWithTheQueryMetricWhereFunctionsDropTheName) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    const auto request = form(ex.body);
    ex.reply = matrix(request,
                      {json{{"job", "api"}, {"region", "us"}}, json{{"__name__", "errors_total"}, {"job", "api"}},
                       json{{"job", "api"}, {"region", "br"}}},
                      [](size_t s, long long ts) -> std::string {
                        if (s == 2 && (ts / 60) % 10 == 3) return "";    // a missing point
                        if (s == 1 && (ts / 60) % 10 == 4) return "NaN";  // a NaN sample
                        return std::to_string(s * 1000 + (ts / 60) % 100) + ".5";
                      });
  });
  PrometheusQuery q = query_to(stub);
  q.bearer_token = "s3cret";
  const Dataset d = read_prometheus(q, IngestOptions{});
  ASSERT_EQ(d.keys.dims, (std::vector<std::string>{"metric", "job", "region"}));
  ASSERT_EQ(d.N(), 3u);
  EXPECT_EQ(d.step, 60);
  EXPECT_EQ(d.start % 60, 0);
  EXPECT_EQ(d.start, 1'700'000'030 / 60 * 60);
  EXPECT_EQ(d.T, 60u);
  // Sorted by (metric, job, region): errors_total{api,""}, http_requests_total{api,br}, {api,us}.
  EXPECT_EQ(d.keys.describe(0), "metric=errors_total,job=api,region=");
  EXPECT_EQ(d.keys.describe(1), "metric=http_requests_total,job=api,region=br");
  EXPECT_EQ(d.keys.describe(2), "metric=http_requests_total,job=api,region=us");
  for (size_t t = 0; t < d.T; ++t) {
    const long long minute = d.time_at(t) / 60;
    EXPECT_FLOAT_EQ(d.at(t, 2), static_cast<float>(minute % 100 + 0.5));
    if (minute % 10 == 3) {
      EXPECT_TRUE(std::isnan(d.at(t, 1)));
      EXPECT_FALSE(d.was_observed(t, 1));
    } else {
      EXPECT_FLOAT_EQ(d.at(t, 1), static_cast<float>(2000 + minute % 100 + 0.5));
    }
    if (minute % 10 == 4) {
      EXPECT_TRUE(std::isnan(d.at(t, 0)));
      EXPECT_TRUE(d.was_observed(t, 0));
    }
  }
  const auto exchanges = stub.exchanges();
  ASSERT_EQ(exchanges.size(), 1u);
  EXPECT_EQ(exchanges[0].method, "POST");
  EXPECT_EQ(exchanges[0].target, "/api/v1/query_range");
  const auto request = form(exchanges[0].body);
  EXPECT_EQ(request.at("query"), q.query);
  EXPECT_EQ(std::stoll(request.at("start")), d.start);
  EXPECT_EQ(std::stoll(request.at("end")), d.time_at(d.T - 1));
  bool authorised = false;
  for (const auto& h : exchanges[0].headers) authorised = authorised || h == "Authorization: Bearer s3cret";
  EXPECT_TRUE(authorised);
}

TEST(PrometheusReader, SplitsLongRangesUnder11000StepsAndHalvesAfterTooManySamples) {
  constexpr long long kMaxSamples = 7000;  // the stub's --query.max-samples, for 2 series
  test::HttpStub stub([](test::HttpExchange& ex) {
    const auto request = form(ex.body);
    const long long steps = (std::stoll(request.at("end")) - std::stoll(request.at("start"))) / 60 + 1;
    if (steps > 11000) {
      ex.status = 400;
      ex.reply = R"({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries"})";
    } else if (2 * steps > kMaxSamples) {
      ex.status = 422;
      ex.reply = R"({"status":"error","errorType":"execution","error":"query processing would load too many samples into memory in query execution"})";
    } else {
      ex.reply = matrix(request, {json{{"__name__", "a"}}, json{{"__name__", "b"}}},
                        [](size_t s, long long ts) { return std::to_string(s + (ts / 60) % 1000); });
    }
  });
  PrometheusQuery q = query_to(stub);
  q.end = q.start + 25'000LL * 60;
  const Dataset d = read_prometheus(q, IngestOptions{});
  ASSERT_EQ(d.T, 25'001u);
  for (size_t t = 0; t < d.T; ++t) {
    ASSERT_FLOAT_EQ(d.at(t, 0), static_cast<float>((d.time_at(t) / 60) % 1000)) << t;
    ASSERT_FLOAT_EQ(d.at(t, 1), static_cast<float>(1 + (d.time_at(t) / 60) % 1000)) << t;
  }
  // Every request under 11,000 steps; after the 422s, windows of 2,500 steps that tile the range.
  long long next_start = d.start, refused = 0;
  for (const auto& ex : stub.exchanges()) {
    const auto r = form(ex.body);
    const long long from = std::stoll(r.at("start")), to = std::stoll(r.at("end"));
    EXPECT_LE((to - from) / 60 + 1, 10'000);
    if (ex.status == 422) {
      ++refused;
      continue;
    }
    ASSERT_EQ(ex.status, 200);
    EXPECT_EQ(from, next_start);
    EXPECT_LE((to - from) / 60 + 1, 3500);
    next_start = to + 60;
  }
  EXPECT_EQ(next_start, d.time_at(d.T - 1) + 60);
  EXPECT_EQ(refused, 2);  // 10,000 and 5,000 steps
}

// `vigil score --prometheus` against the stub (or nothing), with outputs asked for in `tmp`.
test::RunResult score_from(const std::string& url, const test::TempDir& tmp, const std::string& query = "up") {
  return test::run_vigil("score --prometheus " + url + " --query '" + query +
                         "' --start 2026-03-01T00:00:00Z --end 2026-03-02T00:00:00Z --step 5m --retries 2 --backend cpu"
                         " --alarms " + tmp.file("alarms.jsonl") + " --ledger " + tmp.file("ledger.jsonl") +
                         " --scores " + tmp.file("scores.csv"));
}

size_t files_in(const test::TempDir& tmp) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) n += entry.is_regular_file();
  return n;
}

size_t lines(const std::string& text) { return test::count_lines(text); }

TEST(PrometheusCli, ServerDownIsExit3WithOneLineAndNoOutput) {
  test::TempDir tmp;
  const auto r = score_from("http://127.0.0.1:" + std::to_string(test::free_port()), tmp);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("cannot reach the server"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("3 attempts"), std::string::npos) << r.err;
  EXPECT_EQ(files_in(tmp), 0u);
}

TEST(PrometheusCli, Http5xxIsRetriedThenExit3) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    ex.status = 503;
    ex.reply = R"({"status":"error","errorType":"unavailable","error":"TSDB not ready"})";
  });
  test::TempDir tmp;
  const auto r = score_from(stub.url(), tmp);
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("HTTP 503 (3 attempts): unavailable: TSDB not ready"), std::string::npos) << r.err;
  EXPECT_EQ(stub.exchanges().size(), 3u);
  EXPECT_EQ(files_in(tmp), 0u);
}

TEST(PrometheusCli, Http400IsExit2WithTheServersReason) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    ex.status = 400;
    ex.reply = R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unclosed left parenthesis"})";
  });
  test::TempDir tmp;
  const auto r = score_from(stub.url(), tmp, "sum(");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("HTTP 400"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("bad_data: 1:5: parse error: unclosed left parenthesis"), std::string::npos) << r.err;
  EXPECT_EQ(stub.exchanges().size(), 1u);  // a 4xx is not retried
  EXPECT_EQ(files_in(tmp), 0u);
}

TEST(PrometheusCli, Http422IsExit2) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    ex.status = 422;
    ex.reply = R"({"status":"error","errorType":"execution","error":"vector cannot contain metrics with the same labelset"})";
  });
  test::TempDir tmp;
  const auto r = score_from(stub.url(), tmp);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("HTTP 422"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("same labelset"), std::string::npos) << r.err;
  EXPECT_EQ(files_in(tmp), 0u);
}

TEST(PrometheusCli, AnEmptyAnswerIsExit2NamingTheLikelyCauses) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    ex.reply = R"({"status":"success","data":{"resultType":"matrix","result":[]}})";
  });
  test::TempDir tmp;
  const auto r = score_from(stub.url(), tmp);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("no series"), std::string::npos) << r.err;
  EXPECT_EQ(files_in(tmp), 0u);
}

TEST(PrometheusCli, AnswerThatIsNotPrometheusJsonIsExit2) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    ex.content_type = "text/html";
    ex.reply = "<html>login</html>";
  });
  test::TempDir tmp;
  const auto r = score_from(stub.url(), tmp);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("not a Prometheus query_range answer"), std::string::npos) << r.err;
  EXPECT_EQ(files_in(tmp), 0u);
}

TEST(PrometheusCli, BearerTokenFromAFileOrTheEnvironmentElseA401IsExit2) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    bool authorised = false;
    for (const auto& h : ex.headers) authorised = authorised || h == "Authorization: Bearer t0ken";
    if (!authorised) {
      ex.status = 401;
      ex.reply = "Unauthorized";
      return;
    }
    ex.reply = matrix(form(ex.body), {json{{"__name__", "up"}, {"job", "api"}}},
                      [](size_t, long long ts) { return std::to_string(100 + (ts / 300) % 7); });
  });
  test::TempDir tmp;
  test::write_file(tmp.file("token"), "t0ken\n");
  const std::string args = "score --prometheus " + stub.url() +
                           " --query up --start 2026-03-01T00:00:00Z --end 2026-03-03T00:00:00Z --backend cpu --alarms ";
  auto r = test::run_vigil(args + tmp.file("a1.jsonl") + " --bearer-token-file " + tmp.file("token"));
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("scored 1 series x 577 points (step 300s"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(tmp.file("a1.jsonl")));
  ::setenv("VIGIL_PROMETHEUS_TOKEN", "t0ken", 1);
  r = test::run_vigil(args + tmp.file("a2.jsonl"));
  ::unsetenv("VIGIL_PROMETHEUS_TOKEN");
  EXPECT_EQ(r.code, 0) << r.err;
  r = test::run_vigil(args + tmp.file("a3.jsonl"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("HTTP 401"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp.file("a3.jsonl")));
}

TEST(PrometheusCli, InputAndPrometheusTogetherOrQueryAloneAreUsageErrors) {
  test::TempDir tmp;
  auto r = test::run_vigil("score --input x.csv --prometheus http://127.0.0.1:1 --query up");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("give one"), std::string::npos) << r.err;
  r = test::run_vigil("score --input x.csv --query up");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--query goes with --prometheus"), std::string::npos) << r.err;
  r = test::run_vigil("score --prometheus http://127.0.0.1:1 --query up --start 2026-03-01");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--prometheus needs --end"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vigil
