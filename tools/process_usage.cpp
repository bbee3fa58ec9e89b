#include "vigil/tools/process_usage.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace vigil {

ProcessUsage run_measured(const std::vector<std::string>& argv,
                          const std::vector<std::pair<std::string, std::string>>& env) {
  ProcessUsage u;
  if (argv.empty()) return u;
  std::FILE* out = std::tmpfile();  // the child's stdout, read back after it ends
  if (!out) return u;
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    ::dup2(::fileno(out), STDOUT_FILENO);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, STDERR_FILENO);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  if (pid < 0) {
    std::fclose(out);
    return u;
  }
  int status = 0;
  struct rusage ru {};
  while (::wait4(pid, &status, 0, &ru) < 0) {
  }
  u.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  u.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  u.user_seconds = static_cast<double>(ru.ru_utime.tv_sec) + 1e-6 * static_cast<double>(ru.ru_utime.tv_usec);
  u.system_seconds = static_cast<double>(ru.ru_stime.tv_sec) + 1e-6 * static_cast<double>(ru.ru_stime.tv_usec);
  u.minor_faults = ru.ru_minflt;
  u.major_faults = ru.ru_majflt;
  u.peak_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;  // kB
  std::rewind(out);
  char buf[4096];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), out)) > 0) u.output.append(buf, got);
  std::fclose(out);
  return u;
}

}  // namespace vigil
