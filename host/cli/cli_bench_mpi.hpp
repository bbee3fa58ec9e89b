#pragma once
// `vigil bench` under mpirun (cli_bench_mpi.cpp): called by bench() once its data is ready.
#include <string>

#include "vigil/backend.hpp"
#include "vigil/dataset.hpp"
#include "vigil/events.hpp"
#include "vigil/run.hpp"
#include "vigil/value_source.hpp"

namespace vigil::cli {

// Scores `header` shared between the ranks of the MPI job (as `vigil score` does) and prints, on
// rank 0, each rank's time, the imbalance and the gather's cost; writes them to `json_path` when
// set. Every rank calls it.
int bench_distributed(const Dataset& header, const ValueSource& values, const EventSchedule* schedule,
                      Backend& backend, size_t batch_series, const std::string& json_path, const std::string& command);

}  // namespace vigil::cli
