#pragma once
// OpenMetrics text (the format `promtool tsdb create-blocks-from openmetrics` backfills): the
// input values, and vigil's per-point scores, so a dashboard can show vigil's forecast and score
// next to the data.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "vigil/atomic_file.hpp"
#include "vigil/dataset.hpp"
#include "vigil/pipeline.hpp"

namespace vigil {

// A dimension name as a legal Prometheus/Alertmanager label name, [a-zA-Z_][a-zA-Z0-9_]*: other
// characters become '_', and a name that starts with a digit or "__" (reserved) gets "dim_" in
// front.
std::string sanitize_label_name(const std::string& name);
// [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_metric_name(const std::string& name);

// The data's values as gauges: one family per value of `metric_dim` (the metric's name; it must
// be a legal metric name), the other dimensions as labels; `default_name` when the data has no
// `metric_dim` column. Missing points are written as NaN, so a range query reads them back as
// missing rather than the previous sample. Atomic; InputError on a dimension that is not a legal
// label name after sanitising (two dimensions that collide) or a metric value that is not a name.
void write_openmetrics_values(const Dataset& data, const std::string& metric_dim, const std::string& default_name,
                              const std::string& path);

// The per-point scores as gauge families vigil_forecast (input units), vigil_z (z_forecast)
// and vigil_score (the final score, 0..1), labelled with every dimension; points without a value
// (too little history, a missing input point) are left out. Written a batch at a time like the
// CSV (ScoresWriter) and renamed into place by commit(). Each family's samples are kept in a
// temporary file until commit(), since OpenMetrics wants every family in one piece.
class OpenMetricsScoresWriter {
 public:
  OpenMetricsScoresWriter(const std::string& path, const std::vector<std::string>& dims);
  ~OpenMetricsScoresWriter();
  OpenMetricsScoresWriter(const OpenMetricsScoresWriter&) = delete;
  OpenMetricsScoresWriter& operator=(const OpenMetricsScoresWriter&) = delete;
  void append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score);
  // The whole text staged (the families joined), not yet in place: for commit_all with the run's
  // other outputs.
  AtomicFile& file();
  void commit();

  // One family: its name, help, and the value of point p (= t * N + series) of a batch; NaN
  // leaves the point out. Adding a family (a band's lower and upper bound) is one entry in
  // families() (host/io/openmetrics.cpp).
  struct Family;

 private:
  std::string path_;
  std::vector<std::string> label_names_;
  std::vector<std::FILE*> parts_;  // one temporary file per family
  std::unique_ptr<AtomicFile> staged_;
};

}  // namespace vigil
