#pragma once
// Outputs are never left half-written: they are written under a temporary name beside the
// destination and renamed into place by commit(); destruction without commit removes them.
#include <cstdio>
#include <string>

namespace vigil {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  std::FILE* get() { return file_; }
  void write(const std::string& text);
  void write(const void* data, size_t size);  // binary blocks (values.npy); checked like write()
  void commit();  // flush, fsync-free close, rename; throws InputError on failure (e.g. disk full)
  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// A whole small file (a JSON report) written atomically.
inline void write_file_atomically(const std::string& path, const std::string& text) {
  AtomicFile out(path);
  out.write(text);
  out.commit();
}

// The same for an output directory (a cube): files are written into temp_path() and the
// directory is renamed into place by commit(), replacing an existing one. An existing directory
// is replaced only when everything in it has a namesake in the new output (an earlier output of
// the same kind); otherwise commit() throws InputError rather than delete files vigil did not
// write.
class AtomicDir {
 public:
  explicit AtomicDir(std::string path);
  ~AtomicDir();
  AtomicDir(const AtomicDir&) = delete;
  AtomicDir& operator=(const AtomicDir&) = delete;
  const std::string& temp_path() const { return temp_; }
  void commit();

 private:
  std::string path_, temp_;
  bool committed_ = false;
};

}  // namespace vigil
