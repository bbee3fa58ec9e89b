#include "vigil/final_score.hpp"

#include <cmath>

namespace vigil {

std::vector<float> final_scores(const Dataset& data, const Scores& scores, const Config& config) {
  (void)config;
  const size_t N = data.N(), T = data.T;
  std::vector<float> out(T * N, NAN);
  for (size_t t = 0; t < T; ++t)
    for (size_t i = 0; i < N; ++i) {
      const size_t p = t * N + i;
      if (!std::isnan(scores.z[p]))
        out[p] = point_score(scores.z[p], static_cast<Direction>(scores.direction[i]), scores.threshold[i]);
    }
  return out;
}

std::vector<float> score_single_series(const std::vector<float>& values, int64_t start, int64_t step,
                                       const Config& config, Backend& backend) {
  Dataset data;
  data.keys.series_without_dims = 1;
  data.start = start;
  data.step = step;
  data.T = values.size();
  data.values = values;
  data.group_dim.clear();
  data.stack_dim.clear();
  const Scores scores = score_dataset(data, config, backend);
  return final_scores(data, scores, config);
}

}  // namespace vigil
