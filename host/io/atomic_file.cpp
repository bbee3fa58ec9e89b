#include "vigil/atomic_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "vigil/error.hpp"

namespace vigil {
namespace {

namespace fs = std::filesystem;

// ".<name>.<tag>.<pid>.<n>" beside `path`: the same file system, so rename() is atomic, and a
// dot name so a half-written output does not look like a result. The counter keeps two
// outputs of one process apart.
std::string sibling_name(const std::string& path, const char* tag) {
  static std::atomic<unsigned> counter{0};
  const fs::path p(path);
  const fs::path name = "." + p.filename().string() + "." + tag + "." + std::to_string(::getpid()) + "." +
                        std::to_string(counter++);
  return (p.parent_path() / name).string();
}

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

[[noreturn]] void throw_cannot_write(const std::string& path, int error) {
  throw InputError(where(path, 0, std::string("cannot write: ") + std::strerror(error)));
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(sibling_name(path_, "tmp")) {
  file_ = std::fopen(temp_.c_str(), "wb");
  if (!file_) throw_cannot_write(path_, errno);
}

AtomicFile::~AtomicFile() {
  if (file_) std::fclose(file_);
  if (!committed_) std::remove(temp_.c_str());
}

void AtomicFile::write(const std::string& text) { write(text.data(), text.size()); }

void AtomicFile::write(const void* data, size_t size) {
  if (!file_) throw std::logic_error("AtomicFile::write after commit: " + path_);
  if (size && std::fwrite(data, 1, size, file_) != size) throw_cannot_write(path_, errno);
}

void AtomicFile::commit() {
  if (!file_) throw std::logic_error("AtomicFile::commit twice: " + path_);
  // A full disk often shows only at the final flush or close, so both are checked.
  const bool failed = std::fflush(file_) != 0 || std::ferror(file_);
  int error = errno;
  const bool close_failed = std::fclose(file_) != 0;
  if (!failed && close_failed) error = errno;
  file_ = nullptr;
  if (failed || close_failed) throw_cannot_write(path_, error ? error : EIO);
  if (std::rename(temp_.c_str(), path_.c_str()) != 0) throw_cannot_write(path_, errno);
  committed_ = true;
}

AtomicDir::AtomicDir(std::string path)
    : path_(strip_trailing_slashes(std::move(path))), temp_(sibling_name(path_, "tmp")) {
  std::error_code ec;
  if (fs::exists(path_, ec) && !fs::is_directory(path_, ec))
    throw InputError(where(path_, 0, "exists and is not a directory"));
  if (::mkdir(temp_.c_str(), 0777) != 0) throw_cannot_write(path_, errno);
}

AtomicDir::~AtomicDir() {
  if (committed_) return;
  std::error_code ec;
  fs::remove_all(temp_, ec);
}

void AtomicDir::commit() {
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
                             "exists and holds '" + name +
                                 "', which this output would not replace; remove the directory "
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

}  // namespace vigil
