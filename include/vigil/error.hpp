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

// A server vigil talks to (Prometheus, Alertmanager) could not be reached, or kept answering
// 5xx, after the retries. The CLI prints what() as one line on stderr and exits with exit_code():
// 3 when the input could not be read (nothing was written), 4 when pushing the alarms failed
// (the output files were written first).
class ServiceError : public std::runtime_error {
 public:
  static constexpr int kInputUnreachable = 3;
  static constexpr int kPushFailed = 4;
  ServiceError(const std::string& message, int exit_code) : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

// "file:line: problem" (line 0 = the file as a whole).
std::string where(const std::string& file, long long line, const std::string& problem);

}  // namespace vigil
