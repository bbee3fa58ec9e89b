#pragma once
// One scoring run spread over the processes of an MPI job (`mpirun -np K vigil score ...`,
// `srun --mpi=pmix vigil score ...`): DESIGN.md "Scale". Series shard by group, since peer groups
// never span a shard; each process reads and scores its own groups; rank 0 receives every
// episode, decides what needs all of them (notices, lattice grouping) and writes the outputs.
//
// Built with MPI (CMake found it: VIGIL_HAVE_MPI) the same binary runs alone or under a
// launcher; without MPI, or not launched by one, the world is this one process and nothing
// here communicates. Not part of the installed engine: the engine only sees the generic hooks of
// BatchOptions (only_series, merge_traits, merge_result).
#include <cstdint>
#include <string>
#include <vector>

#include "vigil/alarms.hpp"
#include "vigil/config.hpp"
#include "vigil/dataset.hpp"
#include "vigil/run.hpp"

namespace vigil::dist {

// ---- the world: which process this is, and the few collectives a run needs ------------------

// Joins the MPI job when a launcher started this process (its environment says so), else stays
// one process. Also picks this process's GPU from its local rank (see select_local_device).
// Call once, before any backend is made; finish() leaves the job.
void start(const char* command);
void finish();
// A name the processes of this job share and no other job has (rank 0's pid and start time).
const std::string& job_tag();
// Whether the world has more than one process (the distributed path is taken).
bool distributed();
int rank();
int size();
bool is_root();
// This process's rank among those of its node: the launcher's variable (OMPI_COMM_WORLD_LOCAL_RANK,
// SLURM_LOCALID, MPI_LOCALRANKID, PMIX_LOCAL_RANK), else 0.
int local_rank_from_env();
// With several GPUs visible and none chosen by the launcher, makes GPU local_rank % count the
// only one this process sees (CUDA_VISIBLE_DEVICES, before CUDA starts). No GPU: nothing.
void select_local_device(int local_rank);

// Raised in every process when another one failed: the job stops with the failing rank's exit
// code, and only rank 0 prints its line.
struct PeerFailure {
  int code;
};

// A collective every process reaches at the same points of a run. Throws PeerFailure when a
// process failed instead of reaching it (it called fail()). Every exchange below starts with one.
void checkpoint();
// This process failed with `message` (exit `code`): tells the others at their next checkpoint,
// and rank 0 prints one line, "vigil COMMAND: rank R of K: message", for the lowest failing
// rank. Returns the exit code for main(). A failure in the middle of an exchange cannot be
// matched by the others: the job is aborted (MPI_Abort) with the same line.
// Alone (not distributed), prints "vigil COMMAND: message" as ever.
int fail(const std::string& command, int code, const std::string& message);

// ---- what a distributed run shares ---------------------------------------------------------

// Series of each rank: whole groups (of header.group_dim; series ranges without one when no
// mechanism compares series within a group), spread by greedy balancing of points (largest
// group first, to the least-loaded rank; ties to the lower rank). Deterministic: every process
// computes the same. Ascending series indices per rank.
std::vector<std::vector<uint32_t>> assign_series(const Dataset& header, bool whole_groups, int ranks);

// Episodes as bytes and back, for the gather (every field of Episode).
std::string encode_episodes(const std::vector<Episode>& episodes);
std::vector<Episode> decode_episodes(const std::string& bytes);

// What each rank spent (bench): scoring its own series, and rank 0's gather.
struct RankTimes {
  std::vector<double> score_seconds;   // [K] wall time of each rank's batches (up to the gather)
  std::vector<size_t> series;          // [K]
  std::vector<size_t> sent_bytes;      // [K] sent to rank 0 (episodes and counters)
  double gather_seconds = 0;           // rank 0: the merge (wait for the slowest rank excluded)
  double wait_seconds = 0;             // rank 0: waiting at the checkpoint before the gather
};

// Fills `batching` for this process's share of the run: only_series, merge_traits (the "auto"
// transform decides per metric over every rank's series), merge_result (episodes and counters to
// rank 0, in rank order). On rank 0 the RunResult then holds the whole job's episodes, notices and
// alarms, identical to one process; elsewhere it holds none. `times` (optional, rank 0) receives
// each rank's timings.
void distribute_run(const Dataset& header, const Config& config, const EventSchedule* schedule,
                    BatchOptions& batching, RankTimes* times = nullptr);

// ---- the scores CSV of every rank in one file ----------------------------------------------

// Each rank writes its rows to a part beside the destination; once every part is complete, rank
// 0 writes the header and the parts in rank order (each in its batches' series order) into the
// one output, atomically. A failed or killed job leaves neither output nor parts.
class ScoresParts {
 public:
  ScoresParts(const std::string& path, const std::vector<std::string>& dims);
  ~ScoresParts();
  ScoresParts(const ScoresParts&) = delete;
  ScoresParts& operator=(const ScoresParts&) = delete;
  void append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score);
  // Collective: completes this rank's part, then (rank 0) stages the whole output under its
  // temporary name. commit() renames it (rank 0); the parts are removed by the destructor.
  void gather();
  void commit();
  struct Impl;

 private:
  Impl* impl_;
};

}  // namespace vigil::dist
