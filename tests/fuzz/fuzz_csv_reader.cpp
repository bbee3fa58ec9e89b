// The long-CSV reader on arbitrary bytes: either a Dataset whose names are valid text and whose
// grid is consistent, or an InputError. Anything else (a crash, a sanitizer report, another
// exception) is a finding.
#include <cmath>
#include <stdexcept>

#include "fuzz_util.hpp"
#include "vigil/error.hpp"
#include "vigil/ingest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = vigil::fuzz::write_scratch("data.csv", data, size);
  for (int variant = 0; variant < 2; ++variant) {
    vigil::IngestOptions options;
    options.threads = 1;
    if (variant == 1) {
      options.duplicates = vigil::DuplicatePolicy::Sum;
      options.snap_to_grid = true;
    }
    try {
      vigil::Dataset d = vigil::read_csv(path, options);
      if (d.values.size() != d.T * d.N() || d.step <= 0) throw std::logic_error("inconsistent dataset");
      vigil::fuzz::require_json_text(d.keys);
      for (size_t s = 0; s < d.N(); ++s) (void)d.keys.describe(s);
    } catch (const vigil::InputError&) {
    }
  }
  return 0;
}
