#pragma once
// A backend runs the per-point math of include/vigil/ over a time-major batch. The CPU backend
// (host/, OpenMP) and the CUDA backend (kernels/, one thread per series) have one interface, so
// every test and the CLI run against either.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vigil/math/evidence.hpp"
#include "vigil/math/forecast.hpp"
#include "vigil/peers.hpp"

namespace vigil {

// Views never own memory: the caller keeps the arrays alive for the call.
struct ForecastInput {
  const float* values = nullptr;       // [T][N], raw values, NaN = missing
  const uint8_t* transform = nullptr;  // [N], TransformCode
  size_t T = 0, N = 0;
  // Scheduled events (may be null): series i's occurrences are
  // event_effects[event_offsets[i] .. event_offsets[i+1]).
  const uint32_t* event_offsets = nullptr;  // [N+1]
  const EventEffect* event_effects = nullptr;
  size_t event_count = 0;                   // entries in event_effects
  // The events mechanism's first pass: points inside an occurrence are scored without an effect
  // and teach the state nothing, so their residuals measure the events' effects.
  bool freeze_events = false;
};

struct ForecastOutput {
  float* forecast = nullptr;      // [T][N], transformed space, event effect included
  float* z = nullptr;             // [T][N], z_forecast, NaN when not scored
  float* z_base = nullptr;        // [T][N] or null: z without the event effect
  float* z_derivative = nullptr;  // [T][N] or null
  float* z_volatility = nullptr;  // [T][N] or null
  float* scale = nullptr;         // [T][N] or null: what z divides the residual by (the scores' band)

  // The outputs by position, in the order above, for code that treats them alike (staging
  // buffers, padding rows, prefetching): every backend names them through this struct only.
  static constexpr int kCount = 6;
  VIGIL_HD float*& operator[](int k) {
    return k == 0 ? forecast : k == 1 ? z : k == 2 ? z_base : k == 3 ? z_derivative : k == 4 ? z_volatility : scale;
  }
  VIGIL_HD float* operator[](int k) const { return const_cast<ForecastOutput&>(*this)[k]; }
  // One point's scores (a PointScore) at element k of every output asked for.
  template <class Score>
  VIGIL_HD void store(size_t k, const Score& r) const {
    forecast[k] = r.forecast;
    z[k] = r.z;
    if (z_base) z_base[k] = r.z_base;
    if (z_derivative) z_derivative[k] = r.z_derivative;
    if (z_volatility) z_volatility[k] = r.z_volatility;
    if (scale) scale[k] = r.scale;
  }
};

// The evidence stage's view of a batch (evidence.hpp).
struct EvidenceInput {
  const float* values = nullptr;       // [T][N], raw values, NaN = missing
  const uint8_t* transform = nullptr;  // [N], TransformCode (counts get a Poisson floor)
  float* z = nullptr;                  // [T][N], z_forecast: a young model's z is widened in place
  float* z_base = nullptr;             // [T][N] or null: z without event effects, widened alike
  const float* forecast = nullptr;     // [T][N], transformed space (the slow baseline's drift)
  size_t T = 0, N = 0;
  size_t per_day = 0;                  // steps a day
};
// Each [T][N], or null where EvidenceParams leaves the output out.
struct EvidenceOutput {
  float* local = nullptr;
  float* calibrated = nullptr;
  float* accumulated = nullptr;
  float* baseline = nullptr;
};

// One batch through every per-point stage: forecast, then peers (when `layout` is set), then
// evidence. The peers compare the models' own z; the evidence stage then widens a young z (and
// z_base) in place, so the z returned is the widened one, as after the stage calls in turn.
struct BatchStagesInput {
  ForecastParams forecast_params;
  ForecastInput forecast;              // values, transform codes, events (freeze_events: false)
  const PeerLayout* layout = nullptr;  // null: no peer stage
  PeerParams peer_params;
  EvidenceParams evidence_params;      // its with_* flags say which evidence outputs are computed
  size_t per_day = 0;                  // steps a day
};

// Where a stage's time went in one score_batch call (the bench's breakdown). Seconds are device
// time measured with events on CUDA, wall time on the CPU; copies are 0 on the CPU.
struct BatchStageTimes {
  double forecast = 0, peers = 0, evidence = 0;
  double upload = 0, download = 0;        // host-to-device and device-to-host copies
  size_t upload_bytes = 0, download_bytes = 0;
  bool resident = false;                  // CUDA: the batch stayed on the device across stages
};

// Every output is optional: a null pointer is an output the caller does not want (the backend
// then need not compute or return it; forecast and z are computed anyway, the later stages need
// them). The peers' three outputs come together or not at all: none wanted, no peer stage.
struct BatchStagesOutput {
  ForecastOutput forecast;
  PeerOutput peers;
  EvidenceOutput evidence;
  BatchStageTimes* times = nullptr;  // null: not measured
};

// How well a kernel fills the device (cudaOccupancyMaxActiveBlocksPerMultiprocessor).
struct KernelOccupancy {
  std::string kernel;
  int threads_per_block = 0;
  int registers = 0;           // per thread
  int blocks_per_sm = 0;       // resident at once
  double occupancy = 0;        // resident warps / the SM's maximum
};

// How a run should cut its series into batches for a backend: batches of about `bytes` of values
// and scores (0: as large as the run's memory budget allows), of which `concurrent` may be scored
// at once, each by its own host thread (a backend's calls from inside a batch then run on that
// thread alone).
struct BatchShape {
  size_t bytes = 0;
  int concurrent = 1;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BatchShape batch_shape() const { return {}; }
  virtual std::string name() const = 0;    // "cpu" | "cuda"
  virtual std::string device() const = 0;  // what it runs on, for summaries and bench results
  virtual void forecast(const ForecastParams& params, const ForecastInput& in,
                        const ForecastOutput& out) = 0;
  // The evidence stage (evidence.hpp).
  virtual void evidence(const EvidenceParams& params, const EvidenceInput& in, const EvidenceOutput& out) = 0;
  // Peer groups: cell aggregates, breadth and rolling correlation (include/vigil/peers.hpp).
  virtual void peers(const PeerParams& params, const PeerInput& in, const PeerOutput& out) = 0;
  // The three stages of one batch. The default runs the stage calls above in turn over host
  // arrays; the CUDA backend keeps the batch on the device between them (one upload of the
  // values, only the wanted outputs read back).
  virtual void score_batch(const BatchStagesInput& in, const BatchStagesOutput& out);
  // Totals over this backend's score_batch calls so far (the bench's copy figures; zeros where
  // nothing is copied, as on the CPU).
  virtual BatchStageTimes batch_totals() const { return {}; }
  // Its kernels' occupancy at the launch shapes it uses (empty on the CPU).
  virtual std::vector<KernelOccupancy> occupancy() const { return {}; }
  // The roofline's denominator, measured: a large copy within the backend's own memory, in GB/s
  // counting bytes read plus bytes written.
  virtual double copy_bandwidth_gbs() = 0;
  // Host-to-device copy rate from pinned memory (0 for the CPU backend).
  virtual double host_to_device_gbs() { return 0; }
  // Size device batches as if no more than `bytes` of device memory were free (0: what the
  // device reports), so a test can score a cube larger than the device. The CPU ignores it.
  virtual void limit_device_memory(size_t bytes) { (void)bytes; }
};

std::unique_ptr<Backend> make_cpu_backend(int threads = 0);
// "auto" (CUDA when a device is present, else CPU), "cpu" or "cuda"; InputError when "cuda" is
// asked for and no device (or no CUDA build) is available.
std::unique_ptr<Backend> make_backend(const std::string& which);
// Number of usable CUDA devices (0 in a CPU-only build).
int cuda_device_count();

}  // namespace vigil
