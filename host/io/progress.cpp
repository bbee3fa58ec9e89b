#include "io/progress.hpp"

#include <unistd.h>

namespace vigil::cli {

namespace {
constexpr double kQuietSeconds = 2.0;   // runs shorter than this show nothing
constexpr double kRedrawSeconds = 0.5;  // at most two redraws a second
}  // namespace

Progress::Progress(bool enabled, size_t points_per_series)
    : enabled_(enabled), points_per_series_(points_per_series) {}

Progress::~Progress() {
  if (drawn_) std::fputs("\r\033[K", stderr);
}

bool Progress::wanted(bool quiet) { return !quiet && ::isatty(::fileno(stderr)); }

void Progress::update(size_t done, size_t total) {
  if (!enabled_ || total == 0) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (elapsed < kQuietSeconds || (drawn_ && std::chrono::duration<double>(now - last_draw_).count() < kRedrawSeconds))
    return;
  const double rate = static_cast<double>(done) * static_cast<double>(points_per_series_) / elapsed;
  const double eta = done ? elapsed * static_cast<double>(total - done) / static_cast<double>(done) : 0.0;
  std::fprintf(stderr, "\r\033[Kscored %zu of %zu series (%.0f%%), %.3g points/s, ETA %.0f s", done, total,
               100.0 * static_cast<double>(done) / static_cast<double>(total), rate, eta);
  std::fflush(stderr);
  last_draw_ = now;
  drawn_ = true;
}

}  // namespace vigil::cli
