#include "vigil/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "io/signal_cleanup.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// ".<name>.<tag>.<pid>.<n>" beside `path`: the same file system, so rename() is atomic, and a
// dot name so a half-written output does not look like a result. The counter keeps two
// outputs of one process apart; the pid lets a later run sweep what a killed one left.
std::string sibling_name(const std::string& path, const char* tag) {
  static std::atomic<unsigned> counter{0};
  const fs::path p(path);
  const fs::path name = "." + p.filename().string() + "." + tag + "." + std::to_string(::getpid()) + "." +
                        std::to_string(counter++);
  return (p.parent_path() / name).string();
}

std::string parent_of(const std::string& path) {
  const std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

[[noreturn]] void throw_cannot_write(const std::string& path, int error) {
  throw InputError(where(path, 0, std::string("cannot write: ") + std::strerror(error)));
}

// SIGINT, SIGTERM and SIGHUP held back while a set of outputs is renamed into place.
class HoldSignals {
 public:
  HoldSignals() { signal_cleanup::hold(); }
  ~HoldSignals() { signal_cleanup::release(); }
};

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(sibling_name(path_, "tmp")) {
  const std::string dir = parent_of(path_);
  signal_cleanup::sweep_stale_temps(dir);
  int fd = -1;
#ifdef O_TMPFILE
  // Unnamed until finish() links it: a SIGKILL while writing leaves nothing. linkat() of an
  // O_TMPFILE needs /proc/self/fd.
  // VIGIL_NAMED_TEMPS=1 takes the path of file systems without O_TMPFILE (the tests use it).
  const char* named = std::getenv("VIGIL_NAMED_TEMPS");
  if ((!named || std::string(named) != "1") && ::access("/proc/self/fd", X_OK) == 0)
    fd = ::open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
  anonymous_ = fd >= 0;
#endif
  if (fd < 0) {
    registration_ = signal_cleanup::register_temp(temp_, false);
    fd = ::open(temp_.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
    if (fd < 0) {
      const int error = errno;
      signal_cleanup::unregister_temp(registration_);
      throw_cannot_write(path_, error);
    }
    named_ = true;
  }
  file_ = ::fdopen(fd, "wb");
  if (!file_) {
    const int error = errno;
    ::close(fd);
    discard();
    throw_cannot_write(path_, error);
  }
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (file_) std::fclose(file_);
  file_ = nullptr;
  if (named_ && !committed_) ::unlink(temp_.c_str());
  named_ = false;
  signal_cleanup::unregister_temp(registration_);
  registration_ = -1;
}

void AtomicFile::write(const std::string& text) { write(text.data(), text.size()); }

void AtomicFile::write(const void* data, size_t size) {
  if (!file_) throw std::logic_error("AtomicFile::write after commit: " + path_);
  if (size && std::fwrite(data, 1, size, file_) != size) throw_cannot_write(path_, errno);
}

void AtomicFile::finish() {
  if (!file_) throw std::logic_error("AtomicFile::commit twice: " + path_);
  // A full disk often shows only at the final flush or close, so both are checked.
  bool failed = std::fflush(file_) != 0 || std::ferror(file_);
  int error = failed ? errno : 0;
  if (!failed && anonymous_) {
    registration_ = signal_cleanup::register_temp(temp_, false);
    const std::string self = "/proc/self/fd/" + std::to_string(::fileno(file_));
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, temp_.c_str(), AT_SYMLINK_FOLLOW) == 0) {
      named_ = true;
    } else {
      failed = true;
      error = errno;
    }
  }
  const bool close_failed = std::fclose(file_) != 0;
  if (!failed && close_failed) error = errno;
  file_ = nullptr;
  if (failed || close_failed) {
    discard();
    throw_cannot_write(path_, error ? error : EIO);
  }
}

void AtomicFile::commit() { commit_all({this}); }

void commit_all(const std::vector<AtomicFile*>& files) {
  HoldSignals hold;
  for (AtomicFile* f : files) f->finish();  // throws: every temp is removed by its destructor
  struct Done {
    AtomicFile* file;
    std::string backup;  // a hard link to what was at the destination before, or ""
  };
  std::vector<Done> done;
  auto undo = [&] {
    for (auto it = done.rbegin(); it != done.rend(); ++it) {
      if (!it->backup.empty()) ::rename(it->backup.c_str(), it->file->path_.c_str());
      else ::unlink(it->file->path_.c_str());
    }
  };
  for (AtomicFile* f : files) {
    std::string backup;
    struct stat info;
    if (::lstat(f->path_.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      backup = sibling_name(f->path_, "old");
      if (::link(f->path_.c_str(), backup.c_str()) != 0) backup.clear();
    }
    if (::rename(f->temp_.c_str(), f->path_.c_str()) != 0) {
      const int error = errno;
      if (!backup.empty()) ::unlink(backup.c_str());
      undo();
      throw_cannot_write(f->path_, error);
    }
    f->committed_ = true;
    f->named_ = false;
    done.push_back({f, std::move(backup)});
  }
  for (const Done& d : done) {
    if (!d.backup.empty()) ::unlink(d.backup.c_str());
    d.file->discard();
  }
}

AtomicDir::AtomicDir(std::string path)
    : path_(strip_trailing_slashes(std::move(path))), temp_(sibling_name(path_, "tmp")) {
  std::error_code ec;
  if (fs::exists(path_, ec) && !fs::is_directory(path_, ec))
    throw InputError(where(path_, 0, "exists and is not a directory"));
  signal_cleanup::sweep_stale_temps(parent_of(path_));
  registration_ = signal_cleanup::register_temp(temp_, true);
  if (::mkdir(temp_.c_str(), 0777) != 0) {
    const int error = errno;
    signal_cleanup::unregister_temp(registration_);
    throw_cannot_write(path_, error);
  }
}

AtomicDir::~AtomicDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
  signal_cleanup::unregister_temp(registration_);
}

void AtomicDir::commit() {
  HoldSignals hold;
  std::error_code ec;
  if (!fs::exists(path_, ec)) {
    if (std::rename(temp_.c_str(), path_.c_str()) != 0) throw_cannot_write(path_, errno);
    committed_ = true;
    return;
  }
  if (!fs::is_directory(path_, ec)) throw InputError(where(path_, 0, "exists and is not a directory"));
  // Replacing a directory deletes it, so only an earlier output of the same kind may go: one
  // that holds nothing the new output would not overwrite (never `--out .` or a home folder).
  for (const fs::directory_entry& entry : fs::directory_iterator(path_, ec)) {
    const std::string name = entry.path().filename().string();
    if (!fs::exists(fs::path(temp_) / name, ec))
      throw InputError(where(path_, 0,
                             "exists and holds " + in_quotes(name) +
                                 ", which this output would not replace; remove the directory "
                                 "or choose another path"));
  }
  if (ec) throw InputError(where(path_, 0, "cannot read the existing directory: " + ec.message()));
  const std::string old = sibling_name(path_, "old");
  if (std::rename(path_.c_str(), old.c_str()) != 0) throw_cannot_write(path_, errno);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    std::rename(old.c_str(), path_.c_str());
    throw_cannot_write(path_, error);
  }
  committed_ = true;
  fs::remove_all(old, ec);
}

void install_signal_cleanup(const std::string& program) { signal_cleanup::install(program); }

}  // namespace vigil
