#include "vigil/error.hpp"

namespace vigil {

std::string where(const std::string& file, long long line, const std::string& problem) {
  if (line > 0) return file + ":" + std::to_string(line) + ": " + problem;
  return file + ": " + problem;
}

}  // namespace vigil
