// The cube reader (meta.json, keys.csv, values.npy) on arbitrary bytes. The input is cut into
// the three files at the first two "\n====\n" separators (missing ones leave files empty), so
// the seed corpus holds whole, valid cubes that the fuzzer mutates piece by piece.
#include <filesystem>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "fuzz_util.hpp"
#include "vigil/error.hpp"
#include "vigil/ingest.hpp"
#include "vigil/value_source.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kSeparator = "\n====\n";
  std::string_view parts[3];
  std::string_view rest = all;
  for (int k = 0; k < 2; ++k) {
    const size_t at = rest.find(kSeparator);
    if (at == std::string_view::npos) {
      parts[k] = rest;
      rest = {};
      break;
    }
    parts[k] = rest.substr(0, at);
    rest.remove_prefix(at + kSeparator.size());
  }
  parts[2] = rest;
  const std::filesystem::path dir = vigil::fuzz::scratch_dir() / "cube";
  std::filesystem::create_directories(dir);
  const char* names[] = {"cube/meta.json", "cube/keys.csv", "cube/values.npy"};
  for (int k = 0; k < 3; ++k)
    vigil::fuzz::write_scratch(names[k], reinterpret_cast<const uint8_t*>(parts[k].data()), parts[k].size());
  try {
    vigil::IngestOptions options;
    vigil::OpenedCube cube = vigil::open_cube(dir.string(), options);
    vigil::resolve_roles(cube.header, false, false);
    vigil::fuzz::require_json_text(cube.header.keys);
    const size_t N = cube.header.N();
    if (N > 0 && cube.header.T * N <= (size_t{1} << 20)) {
      std::vector<uint32_t> columns(N);
      for (size_t i = 0; i < N; ++i) columns[i] = static_cast<uint32_t>(i);
      std::vector<float> values(cube.header.T * N);
      cube.values->gather(columns.data(), N, values.data());
    }
  } catch (const vigil::InputError&) {
  }
  return 0;
}
