#pragma once
// Outputs are never left half-written: they are written to a temporary file beside the
// destination (unnamed, O_TMPFILE, where the file system allows it; else ".<name>.tmp.<pid>.<n>")
// and renamed into place by commit(); destruction without commit removes them. A run's outputs
// are committed together by commit_all(): every file appears, or none does.
#include <cstdio>
#include <string>
#include <vector>

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
  void commit();  // commit_all of this file alone; throws InputError on failure (e.g. disk full)
  const std::string& path() const { return path_; }

 private:
  friend void commit_all(const std::vector<AtomicFile*>& files);
  void finish();  // flush, check, close; the content then has a name (temp_) beside path_
  void discard();

  std::string path_, temp_;
  std::FILE* file_ = nullptr;
  bool anonymous_ = false;  // O_TMPFILE: no name until finish()
  bool named_ = false;      // temp_ exists on disk
  bool committed_ = false;
  int registration_ = -1;   // signal_cleanup handle of temp_
};

// Commits `files` as one: all are flushed and closed first (a full disk fails here, before any
// rename), then renamed into place with SIGINT/SIGTERM held back; if a rename fails (a
// destination that is a directory), the renames already done are undone and any earlier file at
// those paths is put back. Throws InputError naming the file that failed; afterwards no file of
// the set exists at its destination unless it did before. (A SIGKILL between two renames, a
// window of microseconds, is the one case that can leave part of the set.)
void commit_all(const std::vector<AtomicFile*>& files);

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
// write. The temporary directory is removed on SIGINT/SIGTERM, and by the next run writing
// beside it after a SIGKILL.
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
  int registration_ = -1;
};

// Removes the run's temporary outputs on SIGINT, SIGTERM and SIGHUP (then ends with that
// signal), and turns a SIGBUS from an input file truncated while read into one line on stderr
// prefixed by `program` ("vigil score") and exit code 2. Called once by main().
void install_signal_cleanup(const std::string& program);

}  // namespace vigil
