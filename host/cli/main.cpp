#include <csignal>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/cli.hpp"
#include "cxxopts.hpp"
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
    "  nab       vigil's final score vs classic detectors under NAB's scoring rule\n";

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
  // Subcommands see argv without the program name, so cxxopts prints "vigil score".
  // Temporary outputs go on SIGINT/SIGTERM; a SIGBUS from an input truncated while read is
  // one line and exit 2 (io/signal_cleanup.hpp).
  vigil::install_signal_cleanup("vigil " + shown);
  int sub_argc = argc - 1;
  char** sub_argv = argv + 1;
  try {
    if (command == "score") return vigil::cli::score(sub_argc, sub_argv);
    if (command == "generate") return vigil::cli::generate(sub_argc, sub_argv);
    if (command == "eval") return vigil::cli::eval(sub_argc, sub_argv);
    if (command == "convert") return vigil::cli::convert(sub_argc, sub_argv);
    if (command == "bench") return vigil::cli::bench(sub_argc, sub_argv);
    if (command == "sample") return vigil::cli::sample(sub_argc, sub_argv);
    if (command == "ablate") return vigil::cli::ablate(sub_argc, sub_argv);
    if (command == "nab") return vigil::cli::nab(sub_argc, sub_argv);
    std::fprintf(stderr, "vigil: unknown command '%s'\n%s", shown.c_str(), kUsage);
    return 2;
  } catch (const vigil::InputError& e) {
    std::fprintf(stderr, "vigil %s: %s\n", shown.c_str(), e.what());
    return 2;
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "vigil %s: %s (see vigil %s --help)\n", shown.c_str(),
                 vigil::printable(e.what()).c_str(), shown.c_str());
    return 2;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vigil %s: out of memory\n", shown.c_str());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil %s: internal error: %s\n", shown.c_str(), vigil::printable(e.what()).c_str());
    return 1;
  }
}
