#pragma once
// The message passing that a distributed run needs, behind one small interface: comm_mpi.cpp
// with MPI, comm_single.cpp (one process, nothing to exchange) without. Every collective here is
// called by every process in the same order; dist.cpp guards each with a checkpoint.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vigil::dist::comm {

// Joins the job when a launcher started this process; false (one process) otherwise.
bool init_if_launched();
void finalize();
int rank();
int size();
// Ends every process of the job with `code` (a failure no checkpoint can match).
[[noreturn]] void abort_job(int code);

// The lowest `value` over the processes.
int min_int(int value);
// `text` from `root` to every process.
void broadcast(std::string& text, int root);
// Bitwise OR of `data` over the processes, in place everywhere.
void or_bytes(uint8_t* data, size_t n);
// Each process's `mine`; rank 0 gets all of them in rank order, the others an empty vector.
// Sent in rounds so that no count or displacement passes the int range of MPI_Gatherv.
std::vector<std::string> gather_to_root(const std::string& mine, size_t round_bytes);

}  // namespace vigil::dist::comm
