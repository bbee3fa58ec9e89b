#pragma once
// CSV text shared by the readers and writers of ingest and events: a file's bytes, its lines,
// RFC-4180 fields. A record is one line: quoted fields may hold commas and doubled quotes but
// not line breaks, which is what lets the long-CSV reader cut a file at newlines and parse the
// pieces in parallel.
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::csv {

// The whole file, memory-mapped when it is a regular file (GB inputs are not copied), read
// otherwise (pipes). Throws InputError "PATH: cannot read: ..." when it cannot be opened. A file
// truncated while mapped is reported by the SIGBUS guard (io/signal_cleanup.hpp): one line, exit 2.
class FileBytes {
 public:
  explicit FileBytes(const std::string& path);
  ~FileBytes();
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  std::string_view view() const { return {data_, size_}; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  int guard_ = -1;
  std::string owned_;
};

// Walks a buffer line by line, counting from `first_number`, with "\r\n" stripped.
class Lines {
 public:
  explicit Lines(std::string_view text, long long first_number = 1)
      : p_(text.data()), end_(text.data() + text.size()), next_number_(first_number) {}
  bool next(std::string_view& line, long long& number) {
    if (p_ >= end_) return false;
    const char* nl = static_cast<const char*>(std::memchr(p_, '\n', static_cast<size_t>(end_ - p_)));
    const char* stop = nl ? nl : end_;
    line = std::string_view(p_, static_cast<size_t>(stop - p_));
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    p_ = nl ? nl + 1 : end_;
    number = next_number_++;
    return true;
  }
  // Bytes not read yet.
  std::string_view rest() const { return {p_, static_cast<size_t>(end_ - p_)}; }

 private:
  const char* p_;
  const char* end_;
  long long next_number_;
};

// Strips a UTF-8 byte-order mark, which spreadsheet exports put before the header.
inline std::string_view strip_bom(std::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  return text;
}

// Splits `line` (without its line break) into `fields`. Unquoted fields are views into `line`;
// quoted ones are unescaped into `scratch`, reserved up front so that those views stay valid.
// Returns nullptr, or the problem when a quoted field is malformed.
inline const char* split(std::string_view line, std::vector<std::string_view>& fields, std::string& scratch) {
  fields.clear();
  scratch.clear();
  scratch.reserve(line.size());
  const size_t n = line.size();
  size_t pos = 0;
  while (true) {
    if (pos < n && line[pos] == '"') {
      const size_t begin = scratch.size();
      ++pos;
      while (true) {
        const size_t quote = line.find('"', pos);
        if (quote == std::string_view::npos) return "unterminated quoted field";
        scratch.append(line.data() + pos, quote - pos);
        pos = quote + 1;
        if (pos < n && line[pos] == '"') {
          scratch.push_back('"');
          ++pos;
        } else {
          break;
        }
      }
      fields.emplace_back(scratch.data() + begin, scratch.size() - begin);
      if (pos == n) return nullptr;
      if (line[pos] != ',') return "text after the closing quote of a quoted field";
      ++pos;
    } else {
      const void* comma = std::memchr(line.data() + pos, ',', n - pos);
      if (!comma) {
        fields.emplace_back(line.data() + pos, n - pos);
        return nullptr;
      }
      const size_t stop = static_cast<size_t>(static_cast<const char*>(comma) - line.data());
      fields.emplace_back(line.data() + pos, stop - pos);
      pos = stop + 1;
    }
  }
}

// Appends `value` as one field, quoted when it holds a comma, a quote or a line break.
inline void append_field(std::string& out, std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += value;
    return;
  }
  out += '"';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// "a, b, c" for messages.
inline std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) text += (i ? ", " : "") + names[i];
  return text;
}

}  // namespace vigil::csv
