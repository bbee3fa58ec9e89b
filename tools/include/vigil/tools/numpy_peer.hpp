#pragma once
// The NumPy peer of the forecast stage (issue 6): bench/numpy_peer.py, an equivalent vectorised
// NumPy implementation of include/vigil/math/forecast.hpp (events left out), run on the same data so
// `vigil bench` can report vigil's speed as a ratio to it and check that the two agree.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "vigil/math/forecast.hpp"

namespace vigil {

// How closely the peer's z match a reference z (vigil's), over the points both score.
struct NumpyPeerAgreement {
  size_t compared = 0;      // points scored by both
  size_t nan_mismatch = 0;  // points scored by one only (should be 0)
  double median_abs_diff = 0;
  double p99_abs_diff = 0;
  double max_abs_diff = 0;
  double share_within_0_05 = 0;  // of the compared points, |dz| <= 0.05
};

struct NumpyPeerResult {
  size_t series = 0, points = 0;
  double seconds = 0;            // the peer's forecast recurrence (not the load), one thread
  double points_per_second = 0;
  int threads = 1;
  std::string python;            // the interpreter that ran it
  std::string numpy_version;
  std::string pandas_version;    // empty when pandas is not installed
  std::optional<NumpyPeerAgreement> z_agreement;  // when a reference z was given
  nlohmann::ordered_json json;   // the script's own report, as printed (for a bench JSON)
};

// Whether the peer can run here (an interpreter with NumPy and the script are found); the reason
// in `why_not` when not.
bool numpy_peer_available(std::string* why_not);

// Runs the peer on `values` ([T][N] time-major, NaN = missing) with the series' transform codes
// ([N], TransformCode) and, when `reference_z` ([T][N]) is not null, compares its z with it.
// Inputs go through a temporary directory (removed in every case). The interpreter is
// $VIGIL_PYTHON, else the first of `python3` on PATH and /usr/bin/python3 that imports NumPy;
// the script is $VIGIL_NUMPY_PEER, else bench/numpy_peer.py of the source tree vigil was built
// from, else one beside or above the executable. Returns nullopt, with the reason in `why_not`
// (when not null), when no interpreter with NumPy or no script is found or the script fails:
// callers skip the comparison then.
std::optional<NumpyPeerResult> run_numpy_peer(const ForecastParams& params, const float* values,
                                              const uint8_t* transform, size_t T, size_t N,
                                              const float* reference_z, std::string* why_not);

// The peer as a whole process on a .npy already on disk (a cube's values.npy: its load is part of
// the run): the command line, with its parameters written to `params_path`. nullopt, with the
// reason, where the peer cannot run here. Run it with one thread (numpy_peer_environment).
std::optional<std::vector<std::string>> numpy_peer_command(const ForecastParams& params, const uint8_t* transform,
                                                           size_t N, const std::string& values_npy,
                                                           const std::string& params_path, std::string* why_not);
std::vector<std::pair<std::string, std::string>> numpy_peer_environment();

}  // namespace vigil
