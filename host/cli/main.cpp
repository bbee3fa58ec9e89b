#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/cli.hpp"
#include "cxxopts.hpp"
#include "dist/dist.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"

namespace {

const char* kUsage =
    "vigil: GPU-accelerated batch scorer that turns metric time series into actionable alarms\n"
    "\n"
    "usage: vigil <command> [options]   (vigil <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  score     score series and write alarms, the decision ledger and per-point scores\n"
    "  generate  write a synthetic cube with labelled special events and malfunctions\n"
    "  eval      compare alarms with a truth file: recall, false alarms, delay\n"
    "  convert   long CSV -> cube directory\n"
    "  bench     throughput of the scoring pipeline against the memory roofline\n"
    "  sample    generate the built-in sample, score it and print the alarms\n"
    "  ablate    score a generated cube under each --mechanisms setting and compare with its truth\n"
    "  nab       vigil's final score vs classic detectors under NAB's scoring rule\n"
    "  report    one self-contained HTML page for triage from a run's alarms, ledger and scores\n"
    "  export    a CSV or cube as OpenMetrics text, for promtool's backfill into Prometheus\n";

int dispatch(const std::string& command, int argc, char** argv) {
  if (command == "score") return vigil::cli::score(argc, argv);
  if (command == "generate") return vigil::cli::generate(argc, argv);
  if (command == "eval") return vigil::cli::eval(argc, argv);
  if (command == "convert") return vigil::cli::convert(argc, argv);
  if (command == "bench") return vigil::cli::bench(argc, argv);
  if (command == "sample") return vigil::cli::sample(argc, argv);
  if (command == "ablate") return vigil::cli::ablate(argc, argv);
  if (command == "nab") return vigil::cli::nab(argc, argv);
  if (command == "report") return vigil::cli::report(argc, argv);
  if (command == "export") return vigil::cli::export_openmetrics(argc, argv);
  std::fprintf(stderr, "vigil: unknown command '%s'\n%s", vigil::printable(command).c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write fails with EFBIG instead of killing the process,
  // so it is reported like a full disk: one line, exit 2, no partial output.
  std::signal(SIGXFSZ, SIG_IGN);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::string shown = vigil::printable(command);  // messages are one printable line
  // Temporary outputs go on SIGINT/SIGTERM; a SIGBUS from an input truncated while read is
  // one line and exit 2 (io/signal_cleanup.hpp).
  vigil::install_signal_cleanup("vigil " + shown);
  // Under mpirun / srun, `score` and `bench` share the run between the processes (host/dist); a
  // failure anywhere ends every process with one line from rank 0 (dist::fail).
  if (command == "score" || command == "bench") vigil::dist::start(command.c_str());
  // Subcommands see argv without the program name, so cxxopts prints "vigil score".
  int code = 0;
  try {
    code = dispatch(command, argc - 1, argv + 1);
  } catch (const vigil::dist::PeerFailure& e) {
    code = e.code;  // rank 0 has said which rank failed and why
  } catch (const vigil::InputError& e) {
    code = vigil::dist::fail(shown, 2, e.what());
  } catch (const vigil::ServiceError& e) {
    code = vigil::dist::fail(shown, e.exit_code(), vigil::printable(e.what()));
  } catch (const cxxopts::exceptions::exception& e) {
    code = vigil::dist::fail(shown, 2, vigil::printable(e.what()) + " (see vigil " + shown + " --help)");
  } catch (const std::bad_alloc&) {
    code = vigil::dist::fail(shown, 1, "out of memory");
  } catch (const std::exception& e) {
    code = vigil::dist::fail(shown, 1, std::string("internal error: ") + vigil::printable(e.what()));
  }
  vigil::dist::finish();
  return code;
}
