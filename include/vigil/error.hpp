#pragma once
#include <stdexcept>
#include <string>

namespace vigil {

// Bad input or bad usage: the CLI prints what() as one line on stderr and exits with code 2.
// The message already names the file, the line (where there is one) and the problem.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "file:line: problem" (line 0 = the file as a whole).
std::string where(const std::string& file, long long line, const std::string& problem);

}  // namespace vigil
