#pragma once
// Reading series from Prometheus' query API (or Thanos, Mimir, VictoriaMetrics: the same
// /api/v1/query_range), into the Dataset the CSV and cube readers produce.
#include <cstdint>
#include <string>

#include "vigil/dataset.hpp"
#include "vigil/ingest.hpp"

namespace vigil {

struct PrometheusQuery {
  std::string url;            // base URL, e.g. http://127.0.0.1:9090 (a path prefix is kept)
  std::string query;          // PromQL
  int64_t start = 0, end = 0; // unix seconds; end inclusive, as in query_range
  int64_t step = 300;         // seconds; the start is aligned down to a multiple of it
  std::string bearer_token;   // empty: no Authorization header
  std::string metric_dim = "metric";  // the dimension that holds each series' metric name
  // Points per series in one request: Prometheus refuses more than 11,000. A request that would
  // load more than the server's --query.max-samples (HTTP 422) is split further, in halves.
  int64_t max_steps_per_request = 10000;
  int retries = 3;            // after a 5xx or a failed connection, with doubling delays from 1 s
  double first_retry_delay_seconds = 1;
  double timeout_seconds = 120;
};

// Each label set of the result is a series: `__name__` (or, when the query's functions drop it,
// the metric the query selects, see query_metric_name) becomes `metric_dim`, every other label a
// dimension (empty where a series lacks it). Dimensions: `metric_dim` first, then the label
// names sorted; series sorted by their values; values per dimension sorted. Points the server
// does not return are missing (NaN, not observed); NaN and +-Inf samples are missing values.
// Errors: a 4xx (bad query, bad range), an answer that is not Prometheus' JSON, or no series at
// all are InputErrors (exit 2); no connection or 5xx after the retries is a ServiceError
// (ServiceError::kInputUnreachable).
Dataset read_prometheus(const PrometheusQuery& query, const IngestOptions& options);

// The metric a PromQL expression selects: the first metric name outside braces, strings and
// function calls (`rate(http_requests_total{job="a"}[5m])` -> http_requests_total); a selector
// `{__name__="x"}` gives x; empty when there is none.
std::string query_metric_name(const std::string& query);

}  // namespace vigil
