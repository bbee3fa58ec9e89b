#pragma once
// Shared by the libFuzzer targets: inputs are written to a private temporary directory (the
// readers take paths, as vigil does), and every name an accepted input brings must serialise as
// strict JSON, which is what the output writers rely on (core/text_checks.hpp).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "vigil/dataset.hpp"

namespace vigil::fuzz {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path p = std::filesystem::temp_directory_path() / ("vigil-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(std::filesystem::temp_directory_path() / ("vigil-fuzz-" + std::to_string(::getpid())), ec);
    });
    return p;
  }();
  return dir;
}

inline std::string write_scratch(const std::string& name, const uint8_t* data, size_t size) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

// Throws (an internal error, hence a finding) when a name does not serialise as strict JSON.
inline void require_json_text(const Keys& keys) {
  nlohmann::json names = keys.dims;
  for (const auto& values : keys.dictionary) names.push_back(values);
  (void)names.dump();
}

}  // namespace vigil::fuzz
