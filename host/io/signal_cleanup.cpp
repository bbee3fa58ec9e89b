#include "io/signal_cleanup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "vigil/error.hpp"

namespace vigil::signal_cleanup {
namespace {

// Fixed storage: a handler may neither allocate nor lock. A slot is free (0), being written
// (1) or live (2); the handler only reads live slots.
constexpr int kTempSlots = 256;
constexpr size_t kPathBytes = 4096;
struct TempSlot {
  std::atomic<int> state{0};
  bool is_directory = false;
  char path[kPathBytes];
};
TempSlot g_temps[kTempSlots];

constexpr int kMappingSlots = 16;
struct MappingSlot {
  std::atomic<int> state{0};
  const char* begin = nullptr;
  size_t size = 0;
  char message[kPathBytes];  // "vigil score: PATH: changed while being read ...\n", printable
  size_t message_length = 0;
};
MappingSlot g_mappings[kMappingSlots];
char g_program[256] = "vigil";
std::atomic<int> g_held{0};
std::atomic<int> g_pending{0};

template <class Slot>
int claim(Slot* slots, int count) {
  for (int i = 0; i < count; ++i) {
    int expected = 0;
    if (slots[i].state.compare_exchange_strong(expected, 1)) return i;
  }
  return -1;
}

// Removes a directory and what it holds, with system calls only (async-signal-safe).
void remove_tree_at(int parent, const char* name, int depth) {
  if (::unlinkat(parent, name, 0) == 0 || errno == ENOENT) return;
  if (depth > 8) return;
  const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  alignas(8) char buffer[4096];
  for (int round = 0; round < 64; ++round) {  // rounds: entries removed while listing
    ::lseek(fd, 0, SEEK_SET);
    bool removed_any = false;
    while (true) {
      const long n = ::syscall(SYS_getdents64, fd, buffer, sizeof buffer);
      if (n <= 0) break;
      for (long pos = 0; pos < n;) {
        struct Entry {
          unsigned long long ino;
          long long off;
          unsigned short reclen;
          unsigned char type;
          char name[1];
        };
        const Entry* entry = reinterpret_cast<const Entry*>(buffer + pos);
        pos += entry->reclen;
        const char* child = entry->name;
        if (child[0] == '.' && (child[1] == 0 || (child[1] == '.' && child[2] == 0))) continue;
        remove_tree_at(fd, child, depth + 1);
        removed_any = true;
      }
    }
    if (!removed_any) break;
  }
  ::close(fd);
  ::unlinkat(parent, name, AT_REMOVEDIR);
}

void remove_registered_temps() {
  for (TempSlot& slot : g_temps) {
    if (slot.state.load() != 2) continue;
    if (slot.is_directory) remove_tree_at(AT_FDCWD, slot.path, 0);
    else ::unlink(slot.path);
  }
}

void on_termination(int signal_number) {
  if (g_held.load() > 0) {  // outputs are being renamed into place: finish that first
    g_pending.store(signal_number);
    return;
  }
  const int saved = errno;
  remove_registered_temps();
  errno = saved;
  // The default action, once this handler returns (the signal is blocked until then): the
  // process ends the way the sender meant (exit status 128 + signal in a shell).
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void on_bus_error(int signal_number, siginfo_t* info, void*) {
  const char* address = static_cast<const char*>(info->si_addr);
  for (MappingSlot& slot : g_mappings) {
    if (slot.state.load() != 2) continue;
    if (address >= slot.begin && address < slot.begin + slot.size) {
      remove_registered_temps();
      ssize_t ignored = ::write(STDERR_FILENO, slot.message, slot.message_length);
      (void)ignored;
      ::_exit(2);
    }
  }
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void copy_bounded(char* into, size_t capacity, const std::string& text, size_t* length = nullptr) {
  const size_t n = std::min(text.size(), capacity - 1);
  std::memcpy(into, text.data(), n);
  into[n] = 0;
  if (length) *length = n;
}

}  // namespace

void install(const std::string& program) {
  copy_bounded(g_program, sizeof g_program, program);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  sigemptyset(&action.sa_mask);
  action.sa_handler = on_termination;
  action.sa_flags = SA_RESTART;
  for (int s : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(s, &action, nullptr);
  struct sigaction bus;
  std::memset(&bus, 0, sizeof bus);
  sigemptyset(&bus.sa_mask);
  bus.sa_sigaction = on_bus_error;
  bus.sa_flags = SA_SIGINFO | SA_RESETHAND;
  ::sigaction(SIGBUS, &bus, nullptr);
}

void hold() { g_held.fetch_add(1); }

void release() {
  if (g_held.fetch_sub(1) == 1) {
    const int pending = g_pending.exchange(0);
    if (pending) ::raise(pending);
  }
}

int register_temp(const std::string& path, bool is_directory) {
  if (path.size() >= kPathBytes) return -1;
  const int i = claim(g_temps, kTempSlots);
  if (i < 0) return -1;
  // An absolute path: the handler must not depend on the working directory.
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(path, ec).string();
  copy_bounded(g_temps[i].path, kPathBytes, ec || absolute.size() >= kPathBytes ? path : absolute);
  g_temps[i].is_directory = is_directory;
  g_temps[i].state.store(2);
  return i;
}

void unregister_temp(int handle) {
  if (handle >= 0) g_temps[handle].state.store(0);
}

int register_mapping(const void* begin, size_t size, const std::string& path) {
  const int i = claim(g_mappings, kMappingSlots);
  if (i < 0) return -1;
  MappingSlot& slot = g_mappings[i];
  slot.begin = static_cast<const char*>(begin);
  slot.size = size;
  const std::string message = std::string(g_program) + ": " +
                              printable(where(path, 0, "changed while being read (truncated?); read it again once "
                                                       "it is complete")) +
                              "\n";
  copy_bounded(slot.message, kPathBytes, message, &slot.message_length);
  if (slot.message_length && slot.message[slot.message_length - 1] != '\n') slot.message[slot.message_length - 1] = '\n';
  slot.state.store(2);
  return i;
}

void unregister_mapping(int handle) {
  if (handle >= 0) g_mappings[handle].state.store(0);
}

void sweep_stale_temps(const std::string& directory) {
  static std::mutex mutex;
  static std::set<std::string> swept;
  std::error_code ec;
  const std::string key = std::filesystem::absolute(directory.empty() ? "." : directory, ec).string();
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!swept.insert(key).second) return;
  }
  DIR* dir = ::opendir(key.c_str());
  if (!dir) return;
  const int dir_fd = ::dirfd(dir);
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    // ".<name>.<tag>.<pid>.<n>", read from the end.
    if (name.size() < 8 || name[0] != '.') continue;
    const size_t dot_n = name.rfind('.');
    if (dot_n == std::string::npos || dot_n + 1 == name.size()) continue;
    const size_t dot_pid = name.rfind('.', dot_n - 1);
    if (dot_pid == std::string::npos || dot_pid + 1 == dot_n) continue;
    const size_t dot_tag = name.rfind('.', dot_pid - 1);
    if (dot_tag == std::string::npos || dot_tag == 0) continue;
    const std::string tag = name.substr(dot_tag + 1, dot_pid - dot_tag - 1);
    const std::string pid_text = name.substr(dot_pid + 1, dot_n - dot_pid - 1);
    const std::string n_text = name.substr(dot_n + 1);
    if ((tag != "tmp" && tag != "old") || pid_text.size() > 9 ||
        pid_text.find_first_not_of("0123456789") != std::string::npos ||
        n_text.find_first_not_of("0123456789") != std::string::npos)
      continue;
    const pid_t pid = static_cast<pid_t>(std::stol(pid_text));
    if (pid <= 0 || pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (tag == "old") {
      // A backup of an earlier output: removable only while that output is in place.
      const std::string original = name.substr(1, dot_tag - 1);
      struct stat info;
      if (::fstatat(dir_fd, original.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) continue;
    }
    remove_tree_at(dir_fd, name.c_str(), 0);
  }
  ::closedir(dir);
}

}  // namespace vigil::signal_cleanup
