#include "dist/dist.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <stdexcept>

#include "dist/comm.hpp"
#include "vigil/error.hpp"
#include "vigil/pipeline.hpp"

namespace vigil::dist {
namespace {

std::string g_command = "score";
std::string g_job_tag;
bool g_distributed = false;
// Set while the processes are inside an exchange: a failure there cannot be met by a checkpoint.
bool g_in_exchange = false;

struct ExchangeGuard {
  ExchangeGuard() { g_in_exchange = true; }
  ~ExchangeGuard() { g_in_exchange = false; }
};

using SteadyClock = std::chrono::steady_clock;
double seconds_since(SteadyClock::time_point t0) { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); }

// The failing rank's exit code and message, as sent to the others.
std::string failure_text(int code, const std::string& message) { return std::to_string(code) + "\n" + message; }

int print_failure(const std::string& text, int failed_rank) {
  const size_t nl = text.find('\n');
  const int code = std::atoi(text.substr(0, nl).c_str());
  if (is_root())
    std::fprintf(stderr, "vigil %s: rank %d of %d: %s\n", g_command.c_str(), failed_rank, size(),
                 nl == std::string::npos ? "" : text.c_str() + nl + 1);
  return code ? code : 1;
}

// Little-endian fixed-width fields and length-prefixed strings: the same binary on every rank.
class Writer {
 public:
  template <typename V>
  void put(V v) {
    static_assert(std::is_trivially_copyable_v<V>);
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(V));
  }
  void put(const std::string& s) {
    put<uint64_t>(s.size());
    bytes += s;
  }
  std::string bytes;
};

class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  template <typename V>
  V get() {
    V v;
    need(sizeof(V));
    std::memcpy(&v, bytes_.data() + at_, sizeof(V));
    at_ += sizeof(V);
    return v;
  }
  std::string get_string() {
    const size_t n = get<uint64_t>();
    need(n);
    std::string s = bytes_.substr(at_, n);
    at_ += n;
    return s;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  void need(size_t n) const {
    if (bytes_.size() - at_ < n) throw std::runtime_error("dist: truncated episode message");
  }
  const std::string& bytes_;
  size_t at_ = 0;
};

void put_episode(Writer& w, const Episode& e) {
  w.put(e.series);
  w.put(e.first);
  w.put(e.last);
  w.put(static_cast<uint8_t>(e.direction));
  w.put(e.peak_z);
  w.put(e.peak_t);
  w.put(e.impact);
  w.put(e.points);
  w.put(e.decision);
  w.put(e.reason);
  w.put<int64_t>(e.alarm);
  w.put<int64_t>(e.notice);
  for (float f : {e.onset_z, e.breadth, e.correlation, e.group_z, e.derivative, e.volatility, e.base_peak_z}) w.put(f);
  w.put(e.events);
}

Episode get_episode(Reader& r) {
  Episode e;
  e.series = r.get<uint32_t>();
  e.first = r.get<uint32_t>();
  e.last = r.get<uint32_t>();
  e.direction = static_cast<Direction>(r.get<uint8_t>());
  e.peak_z = r.get<float>();
  e.peak_t = r.get<uint32_t>();
  e.impact = r.get<float>();
  e.points = r.get<uint32_t>();
  e.decision = r.get_string();
  e.reason = r.get_string();
  e.alarm = static_cast<long>(r.get<int64_t>());
  e.notice = static_cast<long>(r.get<int64_t>());
  for (float* f : {&e.onset_z, &e.breadth, &e.correlation, &e.group_z, &e.derivative, &e.volatility, &e.base_peak_z})
    *f = r.get<float>();
  e.events = r.get_string();
  return e;
}

// Bytes a rank sends to rank 0 per gather round (at most 2 GiB in all per round: ints).
// VIGIL_DIST_GATHER_ROUND_BYTES sets it smaller, so the tests run the rounds on small data.
size_t gather_round_bytes() {
  if (const char* v = std::getenv("VIGIL_DIST_GATHER_ROUND_BYTES")) {
    const long long n = std::atoll(v);
    if (n > 0) return static_cast<size_t>(n);
  }
  return size_t{1} << 30;
}

}  // namespace

// ---- the world -------------------------------------------------------------------------------

int local_rank_from_env() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK"})
    if (const char* v = std::getenv(var)) return std::max(0, std::atoi(v));
  return 0;
}

void select_local_device(int local_rank) {
  // The launcher may have given each process its GPU already (srun --gpus-per-task sets one).
  std::vector<std::string> visible;
  if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
    std::string list = v;
    for (size_t at = 0; at <= list.size();) {
      const size_t comma = std::min(list.find(',', at), list.size());
      if (comma > at) visible.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
  } else {
    // CUDA must not start before the choice is made, so the GPUs are counted by their device
    // nodes (/dev/nvidiaN; a container may hold N = 3 and 5 only), not with cudaGetDeviceCount;
    // CUDA numbers the ones it sees from 0.
    std::error_code ec;
    size_t count = 0;
    for (const auto& e : std::filesystem::directory_iterator("/dev", ec)) {
      const std::string name = e.path().filename().string();
      count += name.size() > 6 && name.rfind("nvidia", 0) == 0 &&
               name.find_first_not_of("0123456789", 6) == std::string::npos;
    }
    for (size_t g = 0; g < count; ++g) visible.push_back(std::to_string(g));
  }
  if (visible.size() <= 1) return;
  ::setenv("CUDA_VISIBLE_DEVICES", visible[static_cast<size_t>(local_rank) % visible.size()].c_str(), 1);
}

void start(const char* command) {
  g_command = command;
  if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMIX_RANK") && !std::getenv("PMI_RANK") &&
      !std::getenv("PMI_SIZE"))
    return;
  select_local_device(local_rank_from_env());
  if (!comm::init_if_launched()) {  // a build without MPI, started by a launcher
    const char* r = std::getenv("OMPI_COMM_WORLD_RANK") ? std::getenv("OMPI_COMM_WORLD_RANK") : std::getenv("PMIX_RANK");
    if (!r || std::atoi(r) == 0)
      std::fprintf(stderr, "vigil %s: built without MPI: every process of this job does the whole run\n", command);
    return;
  }
  g_distributed = comm::size() > 1;
  g_job_tag = std::to_string(::getpid()) + "-" +
              std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  if (g_distributed) comm::broadcast(g_job_tag, 0);
}

const std::string& job_tag() { return g_job_tag; }

void finish() { comm::finalize(); }

bool distributed() { return g_distributed; }
int rank() { return g_distributed ? comm::rank() : 0; }
int size() { return g_distributed ? comm::size() : 1; }
bool is_root() { return rank() == 0; }

void checkpoint() {
  if (!g_distributed) return;
  const int lowest = comm::min_int(size());
  if (lowest == size()) return;
  std::string text;
  comm::broadcast(text, lowest);
  throw PeerFailure{print_failure(text, lowest)};
}

int fail(const std::string& command, int code, const std::string& message) {
  if (!g_distributed) {
    std::fprintf(stderr, "vigil %s: %s\n", command.c_str(), message.c_str());
    return code;
  }
  if (g_in_exchange) {
    std::fprintf(stderr, "vigil %s: rank %d of %d: %s\n", g_command.c_str(), rank(), size(), message.c_str());
    std::fflush(stderr);
    comm::abort_job(code);
  }
  const int lowest = comm::min_int(rank());
  std::string text = lowest == rank() ? failure_text(code, message) : std::string();
  comm::broadcast(text, lowest);
  return print_failure(text, lowest);
}

// ---- sharing the run -------------------------------------------------------------------------

std::vector<std::vector<uint32_t>> assign_series(const Dataset& header, bool whole_groups, int ranks) {
  const size_t N = header.N(), K = static_cast<size_t>(std::max(ranks, 1));
  std::vector<std::vector<uint32_t>> out(K);
  const int group_dim = header.group_dim.empty() ? -1 : header.keys.dim_index(header.group_dim);
  if (group_dim < 0) {
    if (whole_groups) {  // one group holds every series: one rank scores it
      out[0].resize(N);
      std::iota(out[0].begin(), out[0].end(), 0u);
      return out;
    }
    for (size_t r = 0; r < K; ++r)  // independent series: K ranges of consecutive series
      for (size_t i = N * r / K; i < N * (r + 1) / K; ++i) out[r].push_back(static_cast<uint32_t>(i));
    return out;
  }
  // Every series has T points, so a group's points are its series count times T. Largest group
  // first, each to the least-loaded rank: within 4/3 of the best split, and close to even when
  // groups are many and small.
  const size_t G = header.keys.dictionary[group_dim].size();
  std::vector<size_t> group_size(G, 0);
  for (size_t i = 0; i < N; ++i) ++group_size[header.keys.code(i, group_dim)];
  std::vector<uint32_t> order(G);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return group_size[a] > group_size[b]; });
  std::vector<size_t> load(K, 0);
  std::vector<uint32_t> rank_of_group(G, 0);
  for (uint32_t g : order) {
    if (group_size[g] == 0) continue;
    const size_t r = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    rank_of_group[g] = static_cast<uint32_t>(r);
    load[r] += group_size[g];
  }
  for (size_t i = 0; i < N; ++i) out[rank_of_group[header.keys.code(i, group_dim)]].push_back(static_cast<uint32_t>(i));
  return out;
}

std::string encode_episodes(const std::vector<Episode>& episodes) {
  Writer w;
  w.put<uint64_t>(episodes.size());
  for (const Episode& e : episodes) put_episode(w, e);
  return std::move(w.bytes);
}

std::vector<Episode> decode_episodes(const std::string& bytes) {
  Reader r(bytes);
  std::vector<Episode> out(r.get<uint64_t>());
  for (Episode& e : out) e = get_episode(r);
  if (!r.done()) throw std::runtime_error("dist: trailing bytes after the episodes");
  return out;
}

void distribute_run(const Dataset& header, const Config& config, const EventSchedule* schedule,
                    BatchOptions& batching, RankTimes* times) {
  if (!g_distributed) return;
  const auto t0 = SteadyClock::now();
  batching.only_series = std::move(assign_series(header, needs_whole_groups(config, schedule), size())[rank()]);

  const int metric_dim = header.keys.dim_index(config.metric_dim);
  batching.merge_traits = [&header, metric_dim](std::vector<uint8_t>& traits) {
    checkpoint();  // every rank has read its series
    if (metric_dim < 0) return;  // the "auto" transform then decides per series
    // What the "auto" transform reads of a metric: negative or fractional values in any series
    // of it, on any rank.
    const size_t N = header.N();
    std::vector<uint8_t> metric_bits(header.keys.dictionary[metric_dim].size(), 0);
    for (size_t i = 0; i < N; ++i)
      metric_bits[header.keys.code(i, metric_dim)] |= traits[i] & (kHasNegative | kHasFraction);
    {
      ExchangeGuard exchange;
      comm::or_bytes(metric_bits.data(), metric_bits.size());
    }
    for (size_t i = 0; i < N; ++i) traits[i] |= metric_bits[header.keys.code(i, metric_dim)];
  };

  const size_t my_series = batching.only_series->size();
  batching.merge_result = [t0, my_series, times](RunResult& r) {
    const double local_seconds = seconds_since(t0);
    const auto tw = SteadyClock::now();
    checkpoint();  // every rank has scored its series
    const double wait_seconds = seconds_since(tw);
    const auto tg = SteadyClock::now();
    Writer w;
    w.put(local_seconds);
    w.put<uint64_t>(my_series);
    for (size_t v : {r.short_history, r.empty_series, r.young_points, r.batches, r.event_occurrences, r.largest_batch})
      w.put<uint64_t>(v);
    for (double v : {r.read_seconds, r.forecast_seconds, r.event_seconds, r.peer_seconds, r.evidence_seconds,
                     r.decide_seconds})
      w.put(v);
    w.put(encode_episodes(r.episodes));
    std::vector<std::string> parts;
    {
      ExchangeGuard exchange;
      parts = comm::gather_to_root(w.bytes, gather_round_bytes());
    }
    r.episodes.clear();
    if (!is_root()) return;
    // The job's counters: sums of counts, the slowest rank's stage times.
    RunResult sum;
    std::vector<double> rank_seconds, stage(6, 0.0);
    std::vector<size_t> rank_series, rank_bytes;
    for (const std::string& part : parts) {
      Reader in(part);
      rank_seconds.push_back(in.get<double>());
      rank_series.push_back(in.get<uint64_t>());
      rank_bytes.push_back(part.size());
      for (size_t* v : {&sum.short_history, &sum.empty_series, &sum.young_points, &sum.batches, &sum.event_occurrences})
        *v += in.get<uint64_t>();
      sum.largest_batch = std::max<size_t>(sum.largest_batch, in.get<uint64_t>());
      for (double& s : stage) s = std::max(s, in.get<double>());
      std::vector<Episode> episodes = decode_episodes(in.get_string());
      if (!in.done()) throw std::runtime_error("dist: trailing bytes in a rank's result");
      for (Episode& e : episodes) r.episodes.push_back(std::move(e));  // rank order, then batch order
    }
    r.short_history = sum.short_history;
    r.empty_series = sum.empty_series;
    r.young_points = sum.young_points;
    r.batches = sum.batches;
    r.event_occurrences = sum.event_occurrences;
    r.largest_batch = sum.largest_batch;
    r.read_seconds = stage[0];
    r.forecast_seconds = stage[1];
    r.event_seconds = stage[2];
    r.peer_seconds = stage[3];
    r.evidence_seconds = stage[4];
    r.decide_seconds = stage[5];
    if (times) {
      times->score_seconds = std::move(rank_seconds);
      times->series = std::move(rank_series);
      times->sent_bytes = std::move(rank_bytes);
      times->wait_seconds = wait_seconds;
      times->gather_seconds = seconds_since(tg);
    }
  };
}

}  // namespace vigil::dist
