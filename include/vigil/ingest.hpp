#pragma once
// Readers and writers of the input formats of DESIGN.md: long CSV, single-series CSV, and the
// cube directory (keys.csv, values.npy, meta.json). Every failure is an InputError naming the
// file, the line and the problem.
#include <cstdint>
#include <string>

#include "vigil/dataset.hpp"

namespace vigil {

enum class DuplicatePolicy { Error, Last, Sum };

struct IngestOptions {
  int64_t step = 0;  // 0 = infer: the most common positive gap between timestamps
  DuplicatePolicy duplicates = DuplicatePolicy::Error;
  // A timestamp between grid points is an error, or (irregular sampling) placed on the nearest.
  bool snap_to_grid = false;
  std::string group_dim = "region";  // recorded in the Dataset; validated by the caller
  std::string stack_dim = "stack";
  int threads = 0;  // 0 = every core
};

// Long CSV `timestamp,<dim>...,value` (rows in any order) or `timestamp,value`. Series are
// ordered by their key values (lexicographic by dimension, in column order).
// Fields follow RFC 4180 (double quotes, "" inside them) except that a quoted field cannot span
// lines. Empty lines are skipped. Values empty, nan or inf are missing (NaN, observed).
Dataset read_csv(const std::string& path, const IngestOptions& options);

// What read_csv did, for summaries and benchmarks.
struct IngestStats {
  size_t rows = 0;      // data rows read
  size_t bytes = 0;     // file size
  int threads = 0;      // parser threads used (small files use fewer than asked)
  double seconds = 0;   // wall time of the whole read
};
Dataset read_csv(const std::string& path, const IngestOptions& options, IngestStats* stats);
// keys.csv + values.npy + meta.json. The cube's group_dim/stack_dim become the dataset's roles,
// except where options.group_dim/stack_dim differ from their defaults ("region"/"stack"): an
// explicit role from the command line wins over the one recorded in the cube.
Dataset read_cube(const std::string& dir, const IngestOptions& options);
// A directory is read as a cube, a file as CSV.
Dataset read_input(const std::string& path, const IngestOptions& options);
// Writes the cube atomically (temp dir, then rename).
void write_cube(const Dataset& data, const std::string& dir);
// Writes the long CSV (`timestamp,<dims>...,value`, ISO-8601 UTC, series by series), atomically.
// Missing points that were never observed are not written.
void write_csv(const Dataset& data, const std::string& path);

// Checks that --group-dim/--stack-dim name columns of the data (an empty name = absent);
// throws InputError naming the file when not. A default name ("region"/"stack") that the
// data lacks is silently turned off (set to empty) when `explicit_*` is false.
void resolve_roles(Dataset& data, bool explicit_group, bool explicit_stack);

}  // namespace vigil
