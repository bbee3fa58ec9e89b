// The collectives of a distributed run on MPI_COMM_WORLD.
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <stdexcept>

#include "dist/comm.hpp"

namespace vigil::dist::comm {
namespace {

bool g_active = false;
int g_rank = 0, g_size = 1;

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

// Whether a launcher (mpirun, srun --mpi=pmix, hydra) started this process: alone, vigil never
// touches MPI, so a plain `vigil score` pays nothing for the MPI build.
bool launched() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(var)) return true;
  return false;
}

}  // namespace

bool init_if_launched() {
  if (g_active || !launched()) return g_active;
  int provided = 0;
  // Only the main thread calls MPI (OpenMP threads score, they do not communicate).
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_active = true;
  return true;
}

void finalize() {
  if (!g_active) return;
  MPI_Finalize();
  g_active = false;
}

int rank() { return g_rank; }
int size() { return g_size; }

void abort_job(int code) {
  if (g_active) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

int min_int(int value) {
  if (!g_active) return value;
  int out = value;
  check(MPI_Allreduce(&value, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
  return out;
}

void broadcast(std::string& text, int root) {
  if (!g_active) return;
  unsigned long long n = text.size();
  check(MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, root, MPI_COMM_WORLD), "MPI_Bcast");
  text.resize(n);
  for (size_t at = 0; at < n;) {  // counts are ints
    const int part = static_cast<int>(std::min<size_t>(n - at, INT_MAX));
    check(MPI_Bcast(text.data() + at, part, MPI_CHAR, root, MPI_COMM_WORLD), "MPI_Bcast");
    at += part;
  }
}

void or_bytes(uint8_t* data, size_t n) {
  if (!g_active) return;
  for (size_t at = 0; at < n;) {
    const int part = static_cast<int>(std::min<size_t>(n - at, INT_MAX));
    check(MPI_Allreduce(MPI_IN_PLACE, data + at, part, MPI_UNSIGNED_CHAR, MPI_BOR, MPI_COMM_WORLD), "MPI_Allreduce");
    at += part;
  }
}

std::vector<std::string> gather_to_root(const std::string& mine, size_t round_bytes) {
  if (!g_active) return {mine};
  const int K = g_size;
  // A round moves at most round_bytes from each rank and under 2 GiB in all, so every count and
  // displacement of MPI_Gatherv fits in an int.
  round_bytes = std::max<size_t>(1, std::min(round_bytes, static_cast<size_t>(INT_MAX) / K));
  unsigned long long my_size = mine.size();
  std::vector<unsigned long long> sizes(g_rank == 0 ? K : 0);
  check(MPI_Gather(&my_size, 1, MPI_UNSIGNED_LONG_LONG, sizes.data(), 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD),
        "MPI_Gather");
  unsigned long long largest = my_size;
  check(MPI_Allreduce(&my_size, &largest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  std::vector<std::string> all(g_rank == 0 ? K : 0);
  for (int r = 0; r < static_cast<int>(all.size()); ++r) all[r].resize(sizes[r]);
  std::vector<int> counts(K), displs(K);
  std::vector<char> round;
  for (size_t at = 0; at < largest; at += round_bytes) {
    const int send = static_cast<int>(std::min<size_t>(round_bytes, my_size > at ? my_size - at : 0));
    if (g_rank == 0) {
      int total = 0;
      for (int r = 0; r < K; ++r) {
        counts[r] = static_cast<int>(std::min<size_t>(round_bytes, sizes[r] > at ? sizes[r] - at : 0));
        displs[r] = total;
        total += counts[r];
      }
      round.resize(std::max(total, 1));
    }
    check(MPI_Gatherv(mine.data() + std::min<size_t>(at, my_size), send, MPI_CHAR, round.data(), counts.data(),
                      displs.data(), MPI_CHAR, 0, MPI_COMM_WORLD),
          "MPI_Gatherv");
    if (g_rank == 0)
      for (int r = 0; r < K; ++r) std::copy_n(round.data() + displs[r], counts[r], all[r].data() + at);
  }
  return all;
}

}  // namespace vigil::dist::comm
