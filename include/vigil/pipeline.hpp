#pragma once
// From a dataset to per-point scores, candidate episodes and alarms.
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"

namespace vigil {

struct Scores {
  ForecastParams params;
  std::vector<uint8_t> transform;      // [N], TransformCode
  std::vector<uint8_t> direction;      // [N], Direction of the series' metric
  std::vector<float> threshold;        // [N]
  std::vector<float> forecast;         // [T][N], transformed space
  std::vector<float> z;                // [T][N]
  double seconds = 0;                  // backend time
};

// Runs the forecast stage on `backend`.
Scores score_dataset(const Dataset& data, const Config& config, Backend& backend);

// Score in [0, 1]: 0.5 at the threshold, rising toward 1 with |z| in an allowed direction.
float point_score(float z, Direction direction, float threshold);

}  // namespace vigil
