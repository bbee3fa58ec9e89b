#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "vigil/backend.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown CPU";
}

constexpr size_t kBlock = 256;  // series per block: the stride of the block's state rows
// A batch's values and scores: a few hundred series of a week at 5 minutes, within the caches of
// a core (L2 plus its share of L3) and far from the cost of a batch's setup.
constexpr size_t kCacheBatchBytes = size_t{24} << 20;

// One time step of a block: its rows (n series, a multiple of the lane width: the caller pads
// the last block).
struct BlockRow {
  const float* x;
  const float* code;    // TransformCode as float
  const float* effect;  // event effects (kEvents)
  const float* frozen;  // 1: frozen (kEvents)
  ForecastOutput out;   // every output set (rows not asked for point to scratch)
};

// One time step of a block in the evidence stage: rows of the [T][N] arrays at the block's first
// series, and the earlier days' forecast rows (null before the array starts).
struct EvidenceRow {
  const float* x;
  const float* count;   // 1 for a count series (the local evidence's Poisson floor), else 0
  float* z;             // widened in place while the model is young
  float* z_base;        // null without events
  const float* forecast;
  const float* earlier[3];  // 1, 2 and 7 days back
  EvidenceOutput out;
};

}  // namespace
}  // namespace vigil

// The step over a block's row, W series a lane: forecast_step_t of the copy of forecast.hpp's lane
// math in the namespace where it is expanded. Lanes are GCC vectors of W floats, read and written
// unaligned (may_alias: they alias the float arrays); a block's state rows lie kBlock floats
// apart. Each expansion is compiled for its instruction set: SSE2 (4 series a lane, the x86-64
// baseline), AVX2 (8) and AVX-512 (16), all without FMA contraction, so they compute the same
// roundings in the same order as the scalar step: the same results, bit for bit, on any machine.
#define VIGIL_CPU_STEP_ROWS(W)                                                                               \
  using F = simd::Vec<W>::F;                                                                                 \
  typedef F UnalignedF __attribute__((aligned(4), may_alias));                                               \
  inline __attribute__((always_inline)) F load(const float* q) { return *reinterpret_cast<const UnalignedF*>(q); } \
  inline __attribute__((always_inline)) void store(float* q, F v) { *reinterpret_cast<UnalignedF*>(q) = v; } \
  struct BlockLanes {                                                                                        \
    float* base;                                                                                             \
    F get(int k) const { return load(base + static_cast<size_t>(k) * kBlock); }                              \
    void set(int k, F v) const { store(base + static_cast<size_t>(k) * kBlock, v); }                         \
  };                                                                                                         \
  template <bool kWeekly, bool kEvents>                                                                      \
  void step_rows(const ForecastParams& params, const Clock& clock, float* state, size_t n, const BlockRow& r) { \
    const ForecastParams p = params; /* local copies: the state's stores cannot alias them */               \
    const Clock c = clock;                                                                                   \
    for (size_t j = 0; j < n; j += W) {                                                                      \
      const F frozen = kEvents ? load(r.frozen + j) : F{};                                                   \
      const PointScoreOf<F> s = forecast_step_t<kWeekly, kEvents>(                                           \
          p, BlockLanes{state + j}, c, load(r.x + j), load(r.code + j), kEvents ? load(r.effect + j) : F{},   \
          frozen != 0.0f);                                                                                   \
      store(r.out.forecast + j, s.forecast);                                                                 \
      store(r.out.z + j, s.z);                                                                               \
      store(r.out.z_base + j, s.z_base);                                                                     \
      store(r.out.z_derivative + j, s.z_derivative);                                                         \
      store(r.out.z_volatility + j, s.z_volatility);                                                         \
      store(r.out.scale + j, s.scale);                                                                       \
    }                                                                                                        \
  }                                                                                                          \
  /* The evidence stage over a block's row: W series a lane, the remainder one at a time (the same */         \
  /* template on float). The state of lanes j..j+W is one contiguous record, EvidenceStateOf<F>: */           \
  /* field k of series j at (j / W) * S * W + k * W + j % W (strided rows cost L1 conflicts). */              \
  template <class V>                                                                                         \
  inline __attribute__((always_inline)) V get(const float* q) {                                              \
    if constexpr (std::is_same<V, float>::value) return *q; else return load(q);                             \
  }                                                                                                          \
  template <class V>                                                                                         \
  inline __attribute__((always_inline)) void put(float* q, V v) {                                            \
    if constexpr (std::is_same<V, float>::value) *q = v; else store(q, v);                                   \
  }                                                                                                          \
  /* The state of lanes j..j+W is one contiguous EvidenceStateOf<F> (the block's state is 64-byte */          \
  /* aligned), used in place: no copy in and out at every step. */                                          \
  inline __attribute__((always_inline)) EvidenceStateOf<F>& lanes_state(float* state, size_t j) {            \
    return *reinterpret_cast<EvidenceStateOf<F>*>(state + j / W * EvidenceStateOf<F>::kStateFloats * W);     \
  }                                                                                                          \
  template <class V>                                                                                         \
  inline __attribute__((always_inline)) void evidence_point(const EvidenceParams& p, EvidenceStateOf<V>& s,   \
                                                            size_t j, const EvidenceRow& r) {                 \
    const V x = get<V>(r.x + j);                                                                             \
    const V widen = young_widening_t(p, s, x);                                                               \
    const V z = get<V>(r.z + j) / widen;                                                                     \
    put(r.z + j, z);                                                                                         \
    if (r.z_base) put(r.z_base + j, get<V>(r.z_base + j) / widen);                                           \
    V earlier[3];                                                                                            \
    for (int k = 0; k < 3; ++k) earlier[k] = r.earlier[k] ? get<V>(r.earlier[k] + j) : splat<V>(NAN);        \
    const EvidenceOutOf<V> o =                                                                               \
        evidence_step_t(p, s, x, get<V>(r.count + j) != 0.0f, z, get<V>(r.forecast + j), earlier);           \
    if (r.out.local) put(r.out.local + j, o.local);                                                          \
    if (r.out.calibrated) put(r.out.calibrated + j, o.calibrated);                                           \
    if (r.out.accumulated) put(r.out.accumulated + j, o.accumulated);                                        \
    if (r.out.baseline) put(r.out.baseline + j, o.baseline);                                                 \
  }                                                                                                          \
  inline void evidence_rows(const EvidenceParams& params, float* state, size_t n, const EvidenceRow& r) {    \
    const EvidenceParams p = params;                                                                         \
    constexpr int S = EvidenceState::kStateFloats;                                                           \
    size_t j = 0;                                                                                            \
    for (; j + W <= n; j += W) evidence_point<F>(p, lanes_state(state, j), j, r);                            \
    for (; j < n; ++j) { /* the remainder: one lane of its record at a time */                               \
      float* record = state + j / W * S * W + j % W;                                                         \
      EvidenceState one;                                                                                     \
      float* field = reinterpret_cast<float*>(&one);                                                         \
      for (int k = 0; k < S; ++k) field[k] = record[k * W];                                                  \
      evidence_point<float>(p, one, j, r);                                                                   \
      for (int k = 0; k < S; ++k) record[k * W] = field[k];                                                  \
    }                                                                                                        \
  }                                                                                                          \
  inline void evidence_init_rows(const EvidenceState& start, float* state) {                                 \
    constexpr int S = EvidenceState::kStateFloats;                                                           \
    const float* field = reinterpret_cast<const float*>(&start);                                             \
    for (size_t g = 0; g < kBlock / W; ++g)                                                                  \
      for (int k = 0; k < S; ++k) std::fill_n(state + (g * S + k) * W, W, field[k]);                         \
  }

// SSE2 (elsewhere than x86-64, the 4-float vectors of the target): the header's own copy of the
// lane math.
namespace vigil::cpu_sse2 {
VIGIL_CPU_STEP_ROWS(4)
}  // namespace vigil::cpu_sse2

#if defined(__x86_64__)
#define VIGIL_CPU_WIDE_VECTORS 1
// AVX2 and AVX-512: the lane math included again under `#pragma GCC target` (see forecast.hpp).
#pragma GCC push_options
#pragma GCC target("avx2")
namespace vigil::cpu_avx2 {
#define VIGIL_FORECAST_LANES_AGAIN
#include "vigil/math/forecast.hpp"
#include "vigil/math/evidence.hpp"
#undef VIGIL_FORECAST_LANES_AGAIN
VIGIL_CPU_STEP_ROWS(8)
}  // namespace vigil::cpu_avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512dq,avx512bw")
#pragma GCC optimize("fp-contract=off")  // AVX-512 brings FMA
namespace vigil::cpu_avx512 {
#define VIGIL_FORECAST_LANES_AGAIN
#define VIGIL_FORECAST_LANES_AVX512
#include "vigil/math/forecast.hpp"
#include "vigil/math/evidence.hpp"
#undef VIGIL_FORECAST_LANES_AVX512
#undef VIGIL_FORECAST_LANES_AGAIN
VIGIL_CPU_STEP_ROWS(16)
}  // namespace vigil::cpu_avx512
#pragma GCC pop_options
#endif
#undef VIGIL_CPU_STEP_ROWS

namespace vigil {
namespace {

// The widest of the three this CPU runs; VIGIL_CPU_ISA=sse2|avx2 caps the choice (the tests
// compare the paths on one machine).
enum class Isa { kSse2, kAvx2, kAvx512 };

Isa cpu_isa() {
#ifdef VIGIL_CPU_WIDE_VECTORS
  const char* cap = std::getenv("VIGIL_CPU_ISA");
  const std::string limit = cap ? cap : "";
  if (limit != "sse2" && limit != "avx2" && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
    return Isa::kAvx512;
  if (limit != "sse2" && __builtin_cpu_supports("avx2")) return Isa::kAvx2;
#endif
  return Isa::kSse2;
}

template <bool kWeekly, bool kEvents>
void step_block(Isa isa, const ForecastParams& p, const Clock& c, float* state, size_t n, const BlockRow& r) {
#ifdef VIGIL_CPU_WIDE_VECTORS
  if (isa == Isa::kAvx512) return cpu_avx512::step_rows<kWeekly, kEvents>(p, c, state, n, r);
  if (isa == Isa::kAvx2) return cpu_avx2::step_rows<kWeekly, kEvents>(p, c, state, n, r);
#endif
  (void)isa;
  cpu_sse2::step_rows<kWeekly, kEvents>(p, c, state, n, r);
}

void evidence_block(Isa isa, const EvidenceParams& p, float* state, size_t n, const EvidenceRow& r) {
#ifdef VIGIL_CPU_WIDE_VECTORS
  if (isa == Isa::kAvx512) return cpu_avx512::evidence_rows(p, state, n, r);
  if (isa == Isa::kAvx2) return cpu_avx2::evidence_rows(p, state, n, r);
#endif
  (void)isa;
  cpu_sse2::evidence_rows(p, state, n, r);
}

// A block's evidence state, every series at `start`, in the layout of the ISA's lanes.
void evidence_block_init(Isa isa, const EvidenceState& start, float* state) {
#ifdef VIGIL_CPU_WIDE_VECTORS
  if (isa == Isa::kAvx512) return cpu_avx512::evidence_init_rows(start, state);
  if (isa == Isa::kAvx2) return cpu_avx2::evidence_init_rows(start, state);
#endif
  (void)isa;
  cpu_sse2::evidence_init_rows(start, state);
}

constexpr uint32_t kNever = 0xffffffffu;
constexpr size_t kPrefetchSteps = 2;

// The first step after t at which resolve_events() of these occurrences (sorted by start) may
// give another answer: the next start, segment boundary or end; kNever when none.
uint32_t next_event_change(const EventEffect* events, uint32_t count, uint32_t t) {
  uint32_t next = kNever;
  for (uint32_t k = 0; k < count; ++k) {
    const EventEffect& e = events[k];
    if (t < e.first) {  // the later ones start later still
      next = std::min(next, e.first);
      break;
    }
    if (t >= e.end) continue;
    const uint32_t segment = event_segment(e, t);
    const uint32_t boundary = segment + 1 < kEventSegments ? event_segment_start(e, segment + 1) : e.end;
    next = std::min(next, boundary);
  }
  return next;
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads > 0 ? threads : omp_get_max_threads()) {}
  std::string name() const override { return "cpu"; }
  // Each thread scores batches of its own, a few hundred series at a time, through every stage
  // while they are in cache: no [T][N] arrays of the whole input, no fresh pages per stage.
  BatchShape batch_shape() const override { return {kCacheBatchBytes, threads_}; }
  std::string device() const override {
    return cpu_model_name() + " (" + std::to_string(threads_) + " threads)";
  }

  // Each thread owns a block of series and streams through time; at every step the block's
  // values, outputs and state rows are contiguous, as in the CUDA backend's warps.
  void forecast(const ForecastParams& p, const ForecastInput& in, const ForecastOutput& out) override {
    if (in.N == 0 || in.T == 0) return;
    if (p.weekly_knots > 0) forecast_blocks<true>(p, in, out);
    else forecast_blocks<false>(p, in, out);
  }

  void peers(const PeerParams& params, const PeerInput& in, const PeerOutput& out) override {
    peers_cpu(params, in, out, threads_);
  }

  // A block of series walks through time together, W series a lane, so each row's reads and writes
  // are contiguous; the block's state stays in cache.
  void evidence(const EvidenceParams& params, const EvidenceInput& in, const EvidenceOutput& out) override {
    const size_t T = in.T, N = in.N;
    if (T == 0 || N == 0) return;
    const size_t blocks = (N + kBlock - 1) / kBlock;
    const Isa isa = cpu_isa();
    EvidenceState start;
    evidence_init(params, start);
    const size_t lags[3] = {in.per_day, 2 * in.per_day, 7 * in.per_day};
    auto at = [](float* output, size_t k) { return output ? output + k : nullptr; };  // null: not wanted
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> count(kBlock);
      // 64-byte aligned: each lane group's record is a vector struct used in place.
      const size_t state_floats = static_cast<size_t>(EvidenceState::kStateFloats) * kBlock;
      std::vector<float> state_memory(state_floats + 16);
      float* state = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(state_memory.data()) + 63) & ~uintptr_t{63});
#pragma omp for schedule(dynamic, 1)
      for (size_t b = 0; b < blocks; ++b) {
        const size_t i0 = b * kBlock, n = std::min(kBlock, N - i0);
        evidence_block_init(isa, start, state);
        for (size_t j = 0; j < n; ++j) count[j] = in.transform[i0 + j] == kCount ? 1.0f : 0.0f;
        for (size_t t = 0; t < T; ++t) {
          const size_t row = t * N + i0;
          EvidenceRow r{in.values + row, count.data(), in.z + row, in.z_base ? in.z_base + row : nullptr,
                        in.forecast + row, {nullptr, nullptr, nullptr},
                        EvidenceOutput{at(out.local, row), at(out.calibrated, row), at(out.accumulated, row),
                                       at(out.baseline, row)}};
          for (int k = 0; k < 3; ++k)
            if (in.per_day > 0 && t >= lags[k]) r.earlier[k] = in.forecast + row - lags[k] * N;
          evidence_block(isa, params, state, n, r);
        }
      }
    }
  }

  double copy_bandwidth_gbs() override {
    const size_t n = size_t{1} << 27;  // 512 MiB per buffer: far beyond any cache
    std::vector<float> src(n), dst(n);
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (size_t i = 0; i < n; ++i) src[i] = static_cast<float>(i & 1023);  // touch pages in parallel
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
      const double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads_)
      {
        const size_t chunk = (n + omp_get_num_threads() - 1) / omp_get_num_threads();
        const size_t b = std::min(n, chunk * omp_get_thread_num()), e = std::min(n, b + chunk);
        std::memcpy(dst.data() + b, src.data() + b, (e - b) * sizeof(float));
      }
      const double dt = omp_get_wtime() - t0;
      best = std::max(best, 2.0 * n * sizeof(float) / dt / 1e9);
    }
    return best;
  }

 private:
  template <bool kWeekly>
  void forecast_blocks(const ForecastParams& p, const ForecastInput& in, const ForecastOutput& out) {
    const size_t N = in.N, T = in.T;
    const size_t blocks = (N + kBlock - 1) / kBlock;
    const int S = state_floats(p);
    std::vector<Clock> clocks(T);
    for (size_t t = 0; t < T; ++t) clocks[t] = clock_at(p, static_cast<int64_t>(t));
    const Isa isa = cpu_isa();
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> state(static_cast<size_t>(S) * kBlock);
      // Per block: transform codes; per step: the events' effects and frozen flags (NaN-free).
      std::vector<float> code(kBlock), effect(kBlock), frozen(kBlock);
      std::vector<uint32_t> next_change(kBlock);
      // The last block's rows padded to whole lanes, and the rows of outputs not asked for.
      std::vector<float> pad_x(kBlock), pad_out(ForecastOutput::kCount * kBlock), scratch(ForecastOutput::kCount * kBlock);
#pragma omp for schedule(dynamic, 1)
      for (size_t b = 0; b < blocks; ++b) {
        const size_t i0 = b * kBlock, n = std::min(kBlock, N - i0);
        const bool partial = n < kBlock;
        // Padding lanes (beyond n) run on missing values: they stay at their initial state.
        for (size_t j = 0; j < kBlock; ++j) init_state(p, StateRef{state.data() + j, kBlock});
        for (size_t j = 0; j < kBlock; ++j) code[j] = j < n ? static_cast<float>(in.transform[i0 + j]) : 0.0f;
        std::fill(effect.begin(), effect.end(), 0.0f);
        std::fill(frozen.begin(), frozen.end(), 0.0f);
        std::fill(pad_x.begin(), pad_x.end(), NAN);
        const size_t lanes = partial ? (n + 15) / 16 * 16 : n;  // a multiple of every lane width
        // Events: a series' effect and frozen flag change only where one of its occurrences
        // starts, ends or enters its next segment, so they are resolved again only there; steps
        // at which no series of the block has any run the step without events.
        const uint32_t* ev_off = in.event_offsets;
        const bool block_has_events = ev_off && ev_off[i0 + n] > ev_off[i0];
        std::fill(next_change.begin(), next_change.end(), block_has_events ? 0u : kNever);
        uint32_t block_next = block_has_events ? 0u : kNever;
        bool events_now = false;
        for (size_t t = 0; t < T; ++t) {
          const size_t row = t * N + i0;
          const uint32_t t32 = static_cast<uint32_t>(t);
          if (t32 >= block_next) {
            block_next = kNever;
            events_now = false;
            for (size_t j = 0; j < n; ++j) {
              const EventEffect* ev = in.event_effects + ev_off[i0 + j];
              const uint32_t count = ev_off[i0 + j + 1] - ev_off[i0 + j];
              if (t32 >= next_change[j]) {
                const EventAtStep at = resolve_events(ev, count, t32, in.freeze_events);
                effect[j] = at.effect;
                frozen[j] = at.frozen ? 1.0f : 0.0f;
                next_change[j] = next_event_change(ev, count, t32);
              }
              block_next = std::min(block_next, next_change[j]);
              events_now = events_now || effect[j] != 0.0f || frozen[j] != 0.0f;
            }
          }
          if (!partial && t + kPrefetchSteps < T) {
            // The rows kPrefetchSteps ahead, one page per row and array: the hardware prefetchers
            // do not cross into them in time.
            const size_t ahead = row + kPrefetchSteps * N;
            for (size_t j = 0; j < n; j += 64 / sizeof(float)) {
              __builtin_prefetch(in.values + ahead + j, 0);
              for (int o = 0; o < ForecastOutput::kCount; ++o)
                if (out[o]) __builtin_prefetch(out[o] + ahead + j, 1);
            }
          }
          BlockRow r;
          if (partial) {
            std::copy(in.values + row, in.values + row + n, pad_x.begin());
            r.x = pad_x.data();
            for (int o = 0; o < ForecastOutput::kCount; ++o) r.out[o] = pad_out.data() + o * kBlock;
          } else {
            r.x = in.values + row;
            for (int o = 0; o < ForecastOutput::kCount; ++o)
              r.out[o] = out[o] ? out[o] + row : scratch.data() + o * kBlock;
          }
          r.code = code.data();
          r.effect = effect.data();
          r.frozen = frozen.data();
          if (events_now) step_block<kWeekly, true>(isa, p, clocks[t], state.data(), lanes, r);
          else step_block<kWeekly, false>(isa, p, clocks[t], state.data(), lanes, r);
          if (partial) {
            for (int o = 0; o < ForecastOutput::kCount; ++o)
              if (out[o]) std::copy(pad_out.data() + o * kBlock, pad_out.data() + o * kBlock + n, out[o] + row);
          }
        }
      }
    }
  }

  int threads_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int threads) { return std::make_unique<CpuBackend>(threads); }

}  // namespace vigil
