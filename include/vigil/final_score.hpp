#pragma once
// The final score (DESIGN.md scoring step 7): one number in [0, 1] per point for users who want
// a single anomaly score, causal like every other score.
#include <cstdint>
#include <vector>

#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/pipeline.hpp"

namespace vigil {

// [T][N] final scores; NaN where the series has no z yet (too little history, missing point).
std::vector<float> final_scores(const Dataset& data, const Scores& scores, const Config& config);

// One series on a regular grid (NaN = missing), scored with `config` as `vigil score` would score
// a `timestamp,value` CSV: the final score of every point (NaN before enough history).
std::vector<float> score_single_series(const std::vector<float>& values, int64_t start, int64_t step,
                                       const Config& config, Backend& backend);

}  // namespace vigil
