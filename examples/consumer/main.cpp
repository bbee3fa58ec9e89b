// Scores a cube or CSV through vigil's public API only, as an outside project would:
//   vigil_consumer DATA [CONFIG]   prints "series N episodes E alarms A"
#include <cstdio>
#include <exception>
#include <string>

#include "vigil/backend.hpp"
#include "vigil/config.hpp"
#include "vigil/ingest.hpp"
#include "vigil/run.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA [CONFIG]\n", argv[0]);
    return 2;
  }
  try {
    const vigil::Config config = argc > 2 ? vigil::read_config(argv[2]) : vigil::Config{};
    const vigil::Dataset data = vigil::read_input(argv[1], vigil::IngestOptions{});
    // The CPU backend: the example runs the same everywhere, with or without a GPU.
    auto backend = vigil::make_backend("cpu");
    const vigil::RunResult run = vigil::run_scoring(data, config, *backend, /*score_from=*/0);
    std::printf("series %zu episodes %zu alarms %zu\n", data.N(), run.episodes.size(), run.alarms.size());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil_consumer: %s\n", e.what());
    return 1;
  }
}
