// The config reader, JSON and YAML: the first byte picks the format, the rest is the file.
// Either a Config (whose printed form reads back as the same Config) or an InputError.
#include <stdexcept>

#include "fuzz_util.hpp"
#include "vigil/config.hpp"
#include "vigil/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool yaml = data[0] & 1;
  const std::string path = vigil::fuzz::write_scratch(yaml ? "config.yaml" : "config.json", data + 1, size - 1);
  try {
    const vigil::Config config = vigil::read_config(path);
    const std::string printed = vigil::config_json(config);
    const std::string again = vigil::fuzz::write_scratch(
        "printed.json", reinterpret_cast<const uint8_t*>(printed.data()), printed.size());
    if (vigil::config_json(vigil::read_config(again)) != printed)
      throw std::logic_error("the printed config does not read back as itself");
  } catch (const vigil::InputError&) {
  }
  return 0;
}
