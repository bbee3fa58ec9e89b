// Backend::score_batch's default: the three stage calls in turn over host arrays. Forecast and z,
// which the evidence stage reads, live in scratch arrays for the call when the caller does not
// want them.
#include <chrono>
#include <vector>

#include "vigil/backend.hpp"

namespace vigil {

void Backend::score_batch(const BatchStagesInput& in, const BatchStagesOutput& out) {
  const size_t T = in.forecast.T, N = in.forecast.N;
  if (T == 0 || N == 0) return;
  using clock = std::chrono::steady_clock;
  auto since = [](clock::time_point t) { return std::chrono::duration<double>(clock::now() - t).count(); };
  std::vector<float> scratch_forecast, scratch_z;
  auto own = [T, N](float* wanted, std::vector<float>& scratch) {
    if (wanted) return wanted;
    scratch.resize(T * N);
    return scratch.data();
  };
  ForecastOutput fo = out.forecast;
  fo.forecast = own(fo.forecast, scratch_forecast);
  fo.z = own(fo.z, scratch_z);
  BatchStageTimes times;
  auto t0 = clock::now();
  forecast(in.forecast_params, in.forecast, fo);
  times.forecast = since(t0);
  if (in.layout && out.peers.cell_z) {  // no peer output wanted: nothing later reads them
    t0 = clock::now();
    peers(in.peer_params, PeerInput{fo.z, T, N, in.layout}, out.peers);
    times.peers = since(t0);
  }
  t0 = clock::now();
  evidence(in.evidence_params,
           EvidenceInput{in.forecast.values, in.forecast.transform, fo.z, fo.z_base, fo.forecast, T, N, in.per_day},
           out.evidence);
  times.evidence = since(t0);
  if (out.times) *out.times = times;
}

}  // namespace vigil
