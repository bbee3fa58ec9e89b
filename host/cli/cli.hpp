#pragma once
// One function per subcommand; each parses its own options (cxxopts) and returns the exit code.
// Bad usage and bad input throw vigil::InputError, which main() turns into one stderr line and
// exit code 2.
namespace vigil::cli {
int score(int argc, char** argv);
int generate(int argc, char** argv);
int eval(int argc, char** argv);
int convert(int argc, char** argv);
int bench(int argc, char** argv);
int sample(int argc, char** argv);
int ablate(int argc, char** argv);
int nab(int argc, char** argv);
int report(int argc, char** argv);
int export_openmetrics(int argc, char** argv);
}  // namespace vigil::cli
