#pragma once
// The final score (DESIGN.md scoring step 7): one number in [0, 1] per point for users who want
// a single anomaly score, causal like every other score.
//
// It answers "is this point evidence of an actionable anomaly that is new?". The evidence is the
// larger of two detectors of the ensemble, each in multiples of its threshold: the forecast's
// calibrated z (evidence.hpp) against the alarm threshold, and the local evidence (the value
// against its recent mean and spread) against `evidence.local_threshold`; or a run of repeated
// values that the series' early history makes improbable (a stuck sensor, a stale exporter:
// odds of 1e-9 are one threshold). 0.5 at one threshold, rising toward 1. Evidence that merely
// persists fades: an excursion's first point scores in full, later points halve toward a quarter
// per point (below 0.5) unless the evidence escalates past 1.5 times its peak. The points of an
// episode the rules explained (external event, gradual shift) are halved, so explained points
// stay below 0.5 too. The rules read an episode's first `onset_points` points, so on those
// episodes the score looks that many points ahead; everything else is causal.
#include <cstdint>
#include <vector>

#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/pipeline.hpp"

namespace vigil {

struct Episode;

// [T][N] final scores; NaN where the series has no z yet (too little history, missing point).
// `episodes` (may be null): the decided candidate episodes whose explained points are halved.
std::vector<float> final_scores(const Dataset& data, const Scores& scores, const Config& config,
                                const std::vector<Episode>* episodes = nullptr);

// One series on a regular grid (NaN = missing), scored with `config` as `vigil score` would score
// a `timestamp,value` CSV: the final score of every point (NaN before enough history).
std::vector<float> score_single_series(const std::vector<float>& values, int64_t start, int64_t step,
                                       const Config& config, Backend& backend);

}  // namespace vigil
