// Shared pieces of ingest: file bytes, input dispatch, the CSV writer and the role check.
#include "vigil/ingest.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "ingest/csv_text.hpp"
#include "io/signal_cleanup.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {

namespace csv {

FileBytes::FileBytes(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw InputError(where(path, 0, std::string("cannot read: ") + std::strerror(errno)));
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    throw InputError(where(path, 0, std::string("cannot read: ") + std::strerror(error)));
  }
  if (S_ISDIR(info.st_mode)) {
    ::close(fd);
    throw InputError(where(path, 0, "is a directory, not a file"));
  }
  if (S_ISREG(info.st_mode) && info.st_size > 0) {
    void* map = ::mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      ::madvise(map, static_cast<size_t>(info.st_size), MADV_SEQUENTIAL);
      data_ = static_cast<const char*>(map);
      size_ = static_cast<size_t>(info.st_size);
      mapped_ = true;
      // A file truncated while mapped faults (SIGBUS) on the pages past its new end: the guard
      // turns that into one line naming the file and exit code 2.
      guard_ = signal_cleanup::register_mapping(data_, size_, path);
    }
  }
  if (!mapped_) {
    char buffer[1 << 16];
    while (true) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        ::close(fd);
        throw InputError(where(path, 0, std::string("cannot read: ") + std::strerror(error)));
      }
      owned_.append(buffer, static_cast<size_t>(n));
    }
    data_ = owned_.data();
    size_ = owned_.size();
  }
  ::close(fd);
}

FileBytes::~FileBytes() {
  signal_cleanup::unregister_mapping(guard_);
  if (mapped_) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace csv

Dataset read_input(const std::string& path, const IngestOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return read_cube(path, options);
  return read_csv(path, options);
}

void write_csv(const Dataset& data, const std::string& path) {
  const size_t N = data.N();
  AtomicFile out(path);
  std::string buffer = "timestamp";
  for (const std::string& dim : data.keys.dims) {
    buffer += ',';
    csv::append_field(buffer, dim);
  }
  buffer += ",value\n";

  std::vector<std::string> stamps(data.T);
  for (size_t t = 0; t < data.T; ++t) stamps[t] = format_iso(data.time_at(t));
  constexpr size_t kFlushBytes = 1 << 20;
  std::string middle;  // ",<dim values>,": everything between the timestamp and the value
  for (size_t s = 0; s < N; ++s) {
    middle = ",";
    for (size_t d = 0; d < data.keys.num_dims(); ++d) {
      csv::append_field(middle, data.keys.value(s, d));
      middle += ',';
    }
    for (size_t t = 0; t < data.T; ++t) {
      if (!data.was_observed(t, s)) continue;
      buffer += stamps[t];
      buffer += middle;
      const float value = data.at(t, s);
      if (!std::isnan(value)) {
        char text[32];
        // Shortest text that reads back as the same float32: round trips are exact.
        const auto result = std::to_chars(text, text + sizeof text, value);
        buffer.append(text, result.ptr);
      }
      buffer += '\n';
      if (buffer.size() >= kFlushBytes) {
        out.write(buffer);
        buffer.clear();
      }
    }
  }
  out.write(buffer);
  out.commit();
}

void resolve_roles(Dataset& data, bool explicit_group, bool explicit_stack) {
  auto resolve = [&](std::string& name, bool is_explicit, const char* option) {
    if (name.empty() || data.keys.dim_index(name) >= 0) return;
    if (!is_explicit) {
      name.clear();
      return;
    }
    const std::string columns = data.keys.dims.empty() ? "the data has no dimension columns"
                                                       : "columns: " + csv::join(data.keys.dims);
    throw InputError(
        where(data.source, 0, std::string(option) + " '" + name + "' is not a column (" + columns + ")"));
  };
  resolve(data.group_dim, explicit_group, "--group-dim");
  resolve(data.stack_dim, explicit_stack, "--stack-dim");
  if (!data.group_dim.empty() && data.group_dim == data.stack_dim)
    throw InputError(
        where(data.source, 0,
              "--group-dim and --stack-dim both name '" + data.group_dim + "'; they need two columns"));
}

}  // namespace vigil
