#pragma once
// A child process run to completion and measured as a whole, as `/usr/bin/time` would: wall time,
// CPU time in user and kernel mode, page faults and peak resident memory. `vigil bench` compares
// whole processes this way (vigil against its NumPy peer, input loading included), beside the
// stage timings measured inside one process.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace vigil {

struct ProcessUsage {
  int exit_code = -1;       // -1: it could not be started, or a signal ended it
  double wall_seconds = 0;
  double user_seconds = 0;
  double system_seconds = 0;
  long minor_faults = 0;
  long major_faults = 0;
  double peak_rss_mb = 0;
  std::string output;       // what it wrote on stdout (stderr is discarded)
};

// Runs argv[0] (found on PATH when it has no slash) with `argv`, plus the environment variables
// `env` set, and waits for it.
ProcessUsage run_measured(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env = {});

}  // namespace vigil
