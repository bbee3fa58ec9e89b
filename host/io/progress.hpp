#pragma once
// Progress of a long run on stderr (series done, points/s, ETA), drawn in place on one line.
// Only on a terminal, only once the run has taken a couple of seconds, never with --quiet: a
// log file or a pipe gets nothing.
#include <chrono>
#include <cstddef>
#include <cstdio>

namespace vigil::cli {

class Progress {
 public:
  // `points_per_series`: T, for the points/s figure.
  Progress(bool enabled, size_t points_per_series);
  ~Progress();  // clears the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void update(size_t done, size_t total);
  // stderr is a terminal and --quiet was not given.
  static bool wanted(bool quiet);

 private:
  using Clock = std::chrono::steady_clock;
  bool enabled_;
  size_t points_per_series_;
  Clock::time_point start_ = Clock::now(), last_draw_{};
  bool drawn_ = false;
};

}  // namespace vigil::cli
