// Backend::score_batch, the three stages of one batch in one call: the CUDA backend's
// device-resident path against the CPU backend on the same inputs, output by output, and the
// default (stage calls in turn) against those calls. The CUDA cases skip where no GPU is present.
//
// Tolerances, per output, on points both backends score (NaN patterns must agree exactly):
//   forecast                                  |a - b| <= 1e-4 (1 + |a|)
//   z, z_base, z_derivative, z_volatility,
//   scale, cell_z                             |a - b| <= 1e-3 (1 + |a|)
//   breadth                                   equal (a count of cells past a threshold)
//   correlation                               |a - b| <= 1e-3 (it lies in [-1, 1])
//   z_local, z_calibrated, z_accumulated,
//   z_baseline                                |a - b| <= 1e-3 (1 + |a|)
// The kernels are built with --fmad=false and the per-point math calls no libm, so both should
// round alike; an outlier decision right at a threshold may still flip and change a series' later
// state, so each output needs 99.9 % of its points within tolerance (the breadth counts such a
// flip as a difference too).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/backends.hpp"
#include "common/synthetic.hpp"
#include "vigil/backend.hpp"
#include "vigil/events.hpp"
#include "vigil/pipeline.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

constexpr float kUntouched = -12345.0f;  // an output left out must keep it

enum Output {
  kForecast, kZ, kZBase, kZDerivative, kZVolatility, kScale,  // ForecastOutput's order
  kCellZ, kBreadth, kCorrelation,
  kLocal, kCalibrated, kAccumulated, kBaseline,
  kOutputs
};
const char* const kNames[kOutputs] = {"forecast", "z",           "z_base",       "z_derivative", "z_volatility",
                                      "scale",    "cell_z",      "breadth",      "correlation",  "z_local",
                                      "z_calibrated", "z_accumulated", "z_baseline"};

float tolerance(int o, float reference) {
  switch (o) {
    case kForecast: return 1e-4f * (1 + std::fabs(reference));
    case kBreadth: return 0;
    case kCorrelation: return 1e-3f;
    default: return 1e-3f * (1 + std::fabs(reference));
  }
}

// A batch as run_scoring hands it to a backend: rules, events plan and peer layout from the
// pipeline (on the CPU), then score_batch's input over them.
struct Batch {
  Dataset data;
  Scores prepared;
  BatchStagesInput in;
};

void prepare(Batch& b, const EventSchedule* schedule) {
  auto cpu = make_cpu_backend();
  Config config;
  score_dataset_into(b.data, config, *cpu, schedule, nullptr, b.prepared);
  const Scores& s = b.prepared;
  const size_t T = b.data.T, N = b.data.N();
  b.in.forecast_params = s.params;
  b.in.forecast = ForecastInput{b.data.values.data(), s.transform.data(), T, N};
  if (!s.events.empty()) {
    b.in.forecast.event_offsets = s.events.offsets.data();
    b.in.forecast.event_effects = s.events.entries.data();
    b.in.forecast.event_count = s.events.entries.size();
  }
  if (s.peers.cells() > 0) b.in.layout = &s.peers;
  b.in.peer_params.clip_z = static_cast<float>(config.peers.clip_z);
  b.in.peer_params.deviating_z = static_cast<float>(config.peers.deviating_z);
  b.in.peer_params.correlation_rate = static_cast<float>(
      1.0 - std::exp(-static_cast<double>(b.data.step) / (3600.0 * config.peers.correlation_hours)));
  b.in.evidence_params = make_evidence_params(config.evidence, s.params);
  b.in.per_day = static_cast<size_t>(s.params.points_per_day);
}

// Four regions x three stacks x eleven devices of daily traffic at 15 minutes, with incidents
// spanning a region's stacks (so breadth and correlation move).
std::unique_ptr<Batch> grouped_batch(int days = 21) {
  auto b = std::make_unique<Batch>();
  b->data = test::make_traffic(4 * 3 * 11, days, 900, 41);
  b->data.keys = test::cartesian_keys({{"region", test::numbered("r", 4)},
                                       {"stack", test::numbered("k", 3)},
                                       {"device", test::numbered("d", 11)}});
  b->data.group_dim = "region";
  b->data.stack_dim = "stack";
  const size_t day = 96;
  for (size_t i = 0; i < 33; ++i) test::inject(b->data, i, 15 * day + 10, 15 * day + 30, 2.5f);  // region r0
  test::inject(b->data, 50, 17 * day, 17 * day + 12, 0.3f);
  for (size_t t = 0; t < b->data.T / 4; ++t) b->data.values[t * b->data.N() + 7] = NAN;  // starts late
  return b;
}

// The outputs of one call, each prefilled with kUntouched; `wanted` picks which the call asks for.
struct Outputs {
  std::vector<float> v[kOutputs];
  BatchStageTimes times;
  BatchStagesOutput view(const Batch& b, const std::vector<bool>& wanted) {
    const size_t TN = b.data.T * b.data.N();
    const size_t TC = b.data.T * b.prepared.peers.cells();
    for (int o = 0; o < kOutputs; ++o) v[o].assign(o == kCellZ ? TC : TN, kUntouched);
    auto at = [&](int o) { return wanted[o] ? v[o].data() : nullptr; };
    BatchStagesOutput out;
    for (int o = kForecast; o <= kScale; ++o) out.forecast[o] = at(o);
    if (no_z_base(b)) out.forecast.z_base = nullptr;
    if (b.in.layout) out.peers = PeerOutput{at(kCellZ), at(kBreadth), at(kCorrelation)};
    out.evidence = EvidenceOutput{at(kLocal), at(kCalibrated), at(kAccumulated), at(kBaseline)};
    out.times = &times;
    return out;
  }
  static bool no_z_base(const Batch& b) { return b.in.forecast.event_offsets == nullptr; }
};

std::vector<bool> every_output() { return std::vector<bool>(kOutputs, true); }

void run(Backend& backend, const Batch& b, const std::vector<bool>& wanted, Outputs& out) {
  backend.score_batch(b.in, out.view(b, wanted));
}

// Each wanted output of `got` against `want`: NaN patterns equal, 99.9 % within tolerance; each
// output not wanted left as it was.
void expect_parity(const Batch& b, const Outputs& want, const Outputs& got, const std::vector<bool>& wanted) {
  for (int o = 0; o < kOutputs; ++o) {
    const bool asked = wanted[o] && !(o == kZBase && Outputs::no_z_base(b)) &&
                       !(o >= kCellZ && o <= kCorrelation && !b.in.layout);
    if (!asked) {
      for (float x : got.v[o]) ASSERT_EQ(x, kUntouched) << kNames[o] << " was not asked for";
      continue;
    }
    size_t compared = 0, agree = 0;
    for (size_t k = 0; k < want.v[o].size(); ++k) {
      const float a = want.v[o][k], g = got.v[o][k];
      ASSERT_NE(g, kUntouched) << kNames[o] << " not written at " << k;
      ASSERT_EQ(std::isnan(a), std::isnan(g)) << kNames[o] << " NaN pattern at " << k;
      if (std::isnan(a)) continue;
      ++compared;
      agree += std::fabs(a - g) <= tolerance(o, a);
    }
    if (o != kZBase) ASSERT_GT(compared, 0u) << kNames[o];  // every output has scored points here
    EXPECT_GE(static_cast<double>(agree), 0.999 * static_cast<double>(compared))
        << kNames[o] << ": " << agree << " of " << compared << " within tolerance";
  }
}

class CudaBatchParity : public ::testing::Test {
 protected:
  void SetUp() override {
    cuda_ = test::backend_named("cuda");
    if (!cuda_) GTEST_SKIP() << "no CUDA device: the CUDA backend is compiled but not run here";
    cpu_ = make_cpu_backend();
  }
  std::unique_ptr<Backend> cuda_, cpu_;
};

TEST_F(CudaBatchParity, EveryOutputWithPeersStaysOnTheDevice) {
  const auto b = grouped_batch();
  prepare(*b, nullptr);
  ASSERT_NE(b->in.layout, nullptr);
  Outputs want, got;
  run(*cpu_, *b, every_output(), want);
  run(*cuda_, *b, every_output(), got);
  expect_parity(*b, want, got, every_output());
  // One upload of the values (with codes and the clock table); every output asked for comes back.
  const size_t TN = b->data.T * b->data.N();
  EXPECT_TRUE(got.times.resident);
  EXPECT_GE(got.times.upload_bytes, TN * sizeof(float));
  EXPECT_LT(got.times.upload_bytes, 2 * TN * sizeof(float));
  const size_t arrays = 5 /* forecast, z, derivative, volatility, scale */ + 2 /* breadth, correlation */ + 4;
  EXPECT_EQ(got.times.download_bytes,
            (arrays * TN + b->data.T * b->prepared.peers.cells()) * sizeof(float));
}

TEST_F(CudaBatchParity, ScheduledEvents) {
  const auto b = grouped_batch();
  const Dataset& d = b->data;
  std::string csv = "event,start,end,scope,expected_impact\n";
  for (int day : {5, 9, 12, 16})
    csv += "match," + format_iso(d.time_at(day * 96 + 70)) + "," + format_iso(d.time_at(day * 96 + 80)) + ",*,\n";
  csv += "promo," + format_iso(d.time_at(12 * 96 + 72)) + "," + format_iso(d.time_at(12 * 96 + 90)) +
         ",region=r1,0.3\n";
  csv += "surprise," + format_iso(d.time_at(18 * 96 + 10)) + "," + format_iso(d.time_at(18 * 96 + 20)) + ",*,\n";
  const EventSchedule schedule = parse_events(csv, "events.csv");
  prepare(*b, &schedule);
  ASSERT_NE(b->in.forecast.event_offsets, nullptr);
  Outputs want, got;
  run(*cpu_, *b, every_output(), want);
  run(*cuda_, *b, every_output(), got);
  expect_parity(*b, want, got, every_output());
}

// A device too small for the whole batch: score_batch pages through it stage by stage (the
// forecast by series, the peers by time steps) and still agrees.
TEST_F(CudaBatchParity, MemoryLimitForcesChunking) {
  const auto b = grouped_batch();
  prepare(*b, nullptr);
  const size_t TN = b->data.T * b->data.N();
  cuda_->limit_device_memory(TN * sizeof(float) * 4);  // far less than the batch's arrays
  Outputs want, got;
  run(*cpu_, *b, every_output(), want);
  run(*cuda_, *b, every_output(), got);
  EXPECT_FALSE(got.times.resident);
  expect_parity(*b, want, got, every_output());
}

// Only what a run without a scores output reads: z, the accumulated evidence and the slow
// baseline; nothing else is written, and what is agrees.
TEST_F(CudaBatchParity, OnlySomeOutputs) {
  const auto b = grouped_batch();
  prepare(*b, nullptr);
  std::vector<bool> wanted(kOutputs, false);
  wanted[kZ] = wanted[kAccumulated] = wanted[kBaseline] = true;
  Outputs want, got;
  run(*cpu_, *b, every_output(), want);
  run(*cuda_, *b, wanted, got);
  expect_parity(*b, want, got, wanted);
  EXPECT_EQ(got.times.download_bytes, 3 * b->data.T * b->data.N() * sizeof(float));
}

// No peer stage (no layout): forecast and evidence alone.
TEST_F(CudaBatchParity, WithoutPeers) {
  const auto b = grouped_batch(9);
  prepare(*b, nullptr);
  b->in.layout = nullptr;
  Outputs want, got;
  run(*cpu_, *b, every_output(), want);
  run(*cuda_, *b, every_output(), got);
  expect_parity(*b, want, got, every_output());
}

// The default score_batch (the CPU backend's) is the stage calls in turn, bit for bit, and
// writes nothing the caller left out.
TEST(DefaultScoreBatch, EqualsTheStageCallsInTurn) {
  const auto b = grouped_batch(9);
  prepare(*b, nullptr);
  auto cpu = make_cpu_backend();
  Outputs got;
  run(*cpu, *b, every_output(), got);
  EXPECT_FALSE(got.times.resident);

  const size_t T = b->data.T, N = b->data.N(), C = b->prepared.peers.cells();
  std::vector<float> v[kOutputs];
  for (int o = 0; o < kOutputs; ++o) v[o].assign(o == kCellZ ? T * C : T * N, 0);
  cpu->forecast(b->in.forecast_params, b->in.forecast,
                ForecastOutput{v[kForecast].data(), v[kZ].data(), nullptr, v[kZDerivative].data(),
                               v[kZVolatility].data(), v[kScale].data()});
  cpu->peers(b->in.peer_params, PeerInput{v[kZ].data(), T, N, b->in.layout},
             PeerOutput{v[kCellZ].data(), v[kBreadth].data(), v[kCorrelation].data()});
  cpu->evidence(b->in.evidence_params,
                EvidenceInput{b->data.values.data(), b->prepared.transform.data(), v[kZ].data(), nullptr,
                              v[kForecast].data(), T, N, b->in.per_day},
                EvidenceOutput{v[kLocal].data(), v[kCalibrated].data(), v[kAccumulated].data(), v[kBaseline].data()});
  for (int o = 0; o < kOutputs; ++o) {
    if (o == kZBase) {
      for (float x : got.v[o]) ASSERT_EQ(x, kUntouched);  // no events: no z_base
      continue;
    }
    size_t differ = 0;
    for (size_t k = 0; k < v[o].size(); ++k)
      differ += !(v[o][k] == got.v[o][k] || (std::isnan(v[o][k]) && std::isnan(got.v[o][k])));
    EXPECT_EQ(differ, 0u) << kNames[o];
  }

  std::vector<bool> wanted(kOutputs, false);
  wanted[kBaseline] = true;  // forecast and z are then the call's own scratch
  Outputs some;
  run(*cpu, *b, wanted, some);
  for (int o = 0; o < kOutputs; ++o)
    if (o != kBaseline)
      for (float x : some.v[o]) ASSERT_EQ(x, kUntouched) << kNames[o];
  ASSERT_EQ(some.v[kBaseline].size(), got.v[kBaseline].size());
  EXPECT_EQ(std::memcmp(some.v[kBaseline].data(), got.v[kBaseline].data(), got.v[kBaseline].size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace vigil
