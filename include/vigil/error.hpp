#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

namespace vigil {

// Bad input or bad usage: the CLI prints what() as one line on stderr and exits with code 2.
// The message already names the file, the line (where there is one) and the problem. Whatever
// the message quotes from the input is made printable here, once for every message: control
// characters (newlines, CR, TAB, NUL...) and bytes that are not UTF-8 become \n, \r, \t, \0,
// \xNN escapes, and a message longer than kMaxMessageBytes loses its middle, so a message is
// always one bounded line of text.
class InputError : public std::runtime_error {
 public:
  explicit InputError(const std::string& message);
  explicit InputError(const char* message) : InputError(std::string(message)) {}
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

constexpr size_t kMaxMessageBytes = 2000;

// "file:line: problem" (line 0 = the file as a whole).
std::string where(const std::string& file, long long line, const std::string& problem);

// A piece of input quoted in a message: 'text', cut to its first 80 bytes ("...(N bytes)" after
// them) so a 10 MB field does not become a 10 MB message. InputError escapes what is left.
std::string in_quotes(std::string_view text);

// `text` as one printable line: the escaping InputError applies (exposed for the tests and for
// messages printed outside an exception, such as the SIGBUS guard's).
std::string printable(std::string_view text);

}  // namespace vigil
