// The cube directory: keys.csv (series keys, in series order), values.npy (float32 [T][N], the
// Dataset's own layout, so reading and writing are one block copy), meta.json (grid and roles).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numeric>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>

#include "core/text_checks.hpp"
#include "ingest/csv_text.hpp"
#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"
#include "vigil/ingest.hpp"
#include "vigil/limits.hpp"
#include "vigil/timeutil.hpp"
#include "vigil/value_source.hpp"

namespace vigil {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "values.npy is read and written as '<f4' in place");

constexpr char kMagic[] = "\x93NUMPY";

struct NpyShape {
  size_t rows = 0, cols = 0;
  size_t data_offset = 0;
};

// The text after `key`'s colon in the header dict "{'descr': '<f4', 'fortran_order': False, ...}".
std::optional<std::string_view> dict_value(std::string_view dict, const std::string& key) {
  for (const char quote : {'\'', '"'}) {
    const std::string quoted = quote + key + quote;
    size_t pos = dict.find(quoted);
    if (pos == std::string_view::npos) continue;
    pos = dict.find_first_not_of(' ', pos + quoted.size());
    if (pos == std::string_view::npos || dict[pos] != ':') return std::nullopt;
    pos = dict.find_first_not_of(' ', pos + 1);
    if (pos == std::string_view::npos) return std::nullopt;
    return dict.substr(pos);
  }
  return std::nullopt;
}

NpyShape read_npy_header(std::FILE* file, const std::string& path, size_t file_size) {
  auto bad = [&](const std::string& problem) { throw InputError(where(path, 0, problem)); };
  unsigned char prefix[12];
  if (file_size < 10 || std::fread(prefix, 1, 10, file) != 10 || std::memcmp(prefix, kMagic, 6) != 0)
    bad("not a NumPy .npy file (no \\x93NUMPY magic)");
  size_t header_length = 0, offset = 0;
  const int major = prefix[6];
  if (major == 1) {
    header_length = prefix[8] | static_cast<size_t>(prefix[9]) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (std::fread(prefix + 10, 1, 2, file) != 2) bad("truncated .npy header");
    header_length = prefix[8] | static_cast<size_t>(prefix[9]) << 8 | static_cast<size_t>(prefix[10]) << 16 |
                    static_cast<size_t>(prefix[11]) << 24;
    offset = 12;
  } else {
    bad(".npy format version " + std::to_string(major) + " is not supported (1, 2 and 3 are)");
  }
  if (offset + header_length > file_size) bad("truncated .npy header");
  std::string dict(header_length, '\0');
  if (std::fread(dict.data(), 1, header_length, file) != header_length) bad("truncated .npy header");

  const std::optional<std::string_view> descr = dict_value(dict, "descr");
  if (!descr || descr->empty() || ((*descr)[0] != '\'' && (*descr)[0] != '"')) bad("header has no 'descr'");
  const std::string_view dtype = descr->substr(1, descr->find((*descr)[0], 1) - 1);
  if (dtype != "<f4")
    bad("dtype " + in_quotes(dtype) + " is not supported; expected '<f4' (little-endian float32)");
  const std::optional<std::string_view> fortran = dict_value(dict, "fortran_order");
  if (!fortran || fortran->substr(0, 5) != "False")
    bad("the array is not in C order (fortran_order must be False); save np.ascontiguousarray(values)");

  const std::optional<std::string_view> shape_text = dict_value(dict, "shape");
  if (!shape_text || shape_text->empty() || (*shape_text)[0] != '(') bad("header has no 'shape'");
  std::vector<size_t> shape;
  const std::string_view text = *shape_text;
  size_t pos = 1;
  while (true) {
    pos = text.find_first_not_of(' ', pos);
    if (pos == std::string_view::npos) bad("malformed 'shape' in the header");
    if (text[pos] == ')') break;
    size_t extent = 0;
    const auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), extent);
    if (ec != std::errc()) bad("malformed 'shape' in the header");
    shape.push_back(extent);
    pos = text.find_first_not_of(' ', static_cast<size_t>(ptr - text.data()));
    if (pos != std::string_view::npos && text[pos] == ',') ++pos;
  }
  if (shape.size() != 2)
    bad("shape has " + std::to_string(shape.size()) + " dimensions; expected (T, N): time steps x series");
  return NpyShape{shape[0], shape[1], offset + header_length};
}

std::string npy_header(size_t rows, size_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  // NumPy pads the header with spaces and a newline so that the data starts 64-byte aligned.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string header(kMagic, 6);
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xff);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

struct Meta {
  int64_t start = 0, step = 0;
  std::vector<std::string> dims;
  std::optional<std::string> group_dim, stack_dim;  // nullopt when meta.json does not say
};

Meta read_meta(const std::string& path) {
  const csv::FileBytes file(path);
  json doc;
  try {
    doc = json::parse(file.view());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for 1e999
    throw InputError(where(path, 0, std::string("is not valid JSON: ") + e.what()));
  }
  auto bad = [&](const std::string& problem) { throw InputError(where(path, 0, problem)); };
  if (!doc.is_object()) bad("expected a JSON object");
  Meta meta;

  const auto start = doc.find("start");
  std::optional<int64_t> start_time;
  if (start != doc.end() && start->is_string())
    start_time = parse_timestamp(start->get<std::string>());
  else if (start != doc.end() && start->is_number_unsigned())
    start_time = start->get<uint64_t>() > uint64_t{INT64_MAX} ? INT64_MAX : start->get<int64_t>();
  else if (start != doc.end() && start->is_number_integer())
    start_time = start->get<int64_t>();
  else if (start != doc.end() && start->is_number_float() && std::fabs(start->get<double>()) < 1e15)
    start_time = std::llround(start->get<double>());
  if (!start_time) bad("'start' must be an ISO-8601 time or unix seconds");
  meta.start = *start_time;

  const auto step = doc.find("step_seconds");
  if (step == doc.end() || !step->is_number_integer() || step->get<int64_t>() <= 0 ||
      (step->is_number_unsigned() && step->get<uint64_t>() > uint64_t{INT64_MAX}))
    bad("'step_seconds' must be a positive integer");
  meta.step = step->get<int64_t>();
  check_grid(path, meta.start, meta.step, 1);

  const auto dims = doc.find("dims");
  if (dims == doc.end() || !dims->is_array()) bad("'dims' must be an array of dimension names");
  for (const json& dim : *dims) {
    if (!dim.is_string() || dim.get<std::string>().empty()) bad("'dims' must be an array of dimension names");
    meta.dims.push_back(dim.get<std::string>());
  }
  check_dim_names(path, 0, meta.dims);

  for (const auto& [key, role] :
       {std::pair{"group_dim", &meta.group_dim}, std::pair{"stack_dim", &meta.stack_dim}}) {
    const auto it = doc.find(key);
    if (it == doc.end()) continue;
    if (it->is_null())
      *role = "";
    else if (it->is_string())
      *role = it->get<std::string>();
    else
      bad(std::string("'") + key + "' must be a dimension name or null");
    // Like --group-dim/--stack-dim: a name the dims lack is an error, except the default one
    // ("region"/"stack"), which means "none" here as on the command line (and which cubes
    // written before write_cube wrote null for an absent role hold).
    if (!role->value().empty() && std::find(meta.dims.begin(), meta.dims.end(), role->value()) == meta.dims.end()) {
      const IngestOptions defaults;
      if (role->value() == (role == &meta.group_dim ? defaults.group_dim : defaults.stack_dim))
        *role = "";
      else
        bad(std::string("'") + key + "' names " + in_quotes(role->value()) + ", which is not in 'dims' (" +
            (meta.dims.empty() ? std::string("none") : csv::join(meta.dims)) + ")");
    }
  }
  return meta;
}

// keys.csv into data.keys (dims already set), checking its header against meta.json.
void read_keys(const std::string& path, Keys& keys) {
  const csv::FileBytes file(path);
  csv::Lines lines(csv::strip_bom(file.view()));
  std::string_view line;
  long long number = 0;
  std::vector<std::string_view> fields;
  std::string scratch;
  const size_t D = keys.dims.size();
  if (D == 0) {  // one series and nothing to read: its keys.csv is a bare (empty) header
    keys.series_without_dims = 1;
    return;
  }
  bool has_header = false;
  while (lines.next(line, number))
    if (!line.empty()) {
      has_header = true;
      break;
    }
  if (!has_header)
    throw InputError(where(path, 0, "empty file; expected a header naming " + csv::join(keys.dims)));
  if (const char* problem = csv::split(line, fields, scratch)) throw InputError(where(path, number, problem));
  const std::vector<std::string> header(fields.begin(), fields.end());
  if (header != keys.dims)
    throw InputError(where(path, number,
                           "header (" + csv::join(header) + ") does not match the dims of meta.json (" +
                               csv::join(keys.dims) + ")"));

  keys.dictionary.assign(D, {});
  keys.index.assign(D, {});
  std::unordered_map<std::string, long long> first_line;  // codes of a series -> its line
  std::string codes;
  while (lines.next(line, number)) {
    if (line.empty()) continue;
    if (const char* problem = csv::split(line, fields, scratch))
      throw InputError(where(path, number, problem));
    if (fields.size() != D)
      throw InputError(where(
          path, number, "expected " + std::to_string(D) + " fields, found " + std::to_string(fields.size())));
    codes.clear();
    for (size_t d = 0; d < D; ++d) {
      const size_t known = keys.dictionary[d].size();
      const uint32_t code = keys.intern(d, std::string(fields[d]));
      if (code >= known) check_text(path, number, keys.dims[d] + " value", fields[d], limits::kMaxValueBytes);
      keys.codes.push_back(code);
      codes.append(reinterpret_cast<const char*>(&code), sizeof code);
    }
    const auto [it, inserted] = first_line.emplace(codes, number);
    if (!inserted)
      throw InputError(where(path, number,
                             "series " + keys.describe(keys.num_series() - 1) +
                                 " appears twice (first at line " + std::to_string(it->second) + ")"));
  }
}

using File = std::unique_ptr<std::FILE, int (*)(std::FILE*)>;

// The cube's keys, grid and roles, with values.npy checked against them (shape, truncation) but
// not read: the file is left open at the data.
struct CubeHeader {
  Dataset data;  // values empty, T set
  File values_file{nullptr, &std::fclose};
  NpyShape shape;
  std::string values_path;
};

CubeHeader open_cube_header(const std::string& dir, const IngestOptions& options) {
  CubeHeader cube;
  const std::string meta_path = (fs::path(dir) / "meta.json").string();
  const std::string keys_path = (fs::path(dir) / "keys.csv").string();
  const std::string& values_path = cube.values_path = (fs::path(dir) / "values.npy").string();
  for (const std::string& path : {meta_path, keys_path, values_path}) {
    std::error_code ec;
    if (!fs::exists(path, ec))
      throw InputError(where(path, 0, "missing; a cube directory holds keys.csv, values.npy and meta.json"));
  }

  const Meta meta = read_meta(meta_path);
  Dataset& data = cube.data;
  data.source = dir;
  data.start = meta.start;
  data.step = meta.step;
  data.keys.dims = meta.dims;
  read_keys(keys_path, data.keys);
  const IngestOptions defaults;
  data.group_dim =
      options.group_dim != defaults.group_dim || !meta.group_dim ? options.group_dim : *meta.group_dim;
  data.stack_dim =
      options.stack_dim != defaults.stack_dim || !meta.stack_dim ? options.stack_dim : *meta.stack_dim;

  cube.values_file.reset(std::fopen(values_path.c_str(), "rb"));
  std::FILE* file = cube.values_file.get();
  if (!file) throw InputError(where(values_path, 0, std::string("cannot read: ") + std::strerror(errno)));
  struct stat info;
  if (::fstat(::fileno(file), &info) != 0)
    throw InputError(where(values_path, 0, std::string("cannot read: ") + std::strerror(errno)));
  const size_t file_size = static_cast<size_t>(info.st_size);
  const NpyShape& shape = cube.shape = read_npy_header(file, values_path, file_size);
  const size_t N = data.N();
  if (shape.cols != N)
    throw InputError(where(dir, 0,
                           "keys.csv has " + std::to_string(N) + " series but values.npy has " +
                               std::to_string(shape.cols) + " columns (shape (" + std::to_string(shape.rows) +
                               ", " + std::to_string(shape.cols) + "))"));
  if (shape.rows == 0) throw InputError(where(values_path, 0, "has no time steps (shape (0, N))"));
  size_t expected = 0;
  if (__builtin_mul_overflow(shape.rows, shape.cols, &expected) ||
      __builtin_mul_overflow(expected, sizeof(float), &expected))
    throw InputError(where(values_path, 0, "shape is too large"));
  const size_t found = file_size - shape.data_offset;
  if (found < expected)
    throw InputError(where(values_path, 0,
                           "truncated: expected " + std::to_string(expected) + " bytes of data, found " +
                               std::to_string(found)));
  if (found > expected)
    throw InputError(where(values_path, 0,
                           "expected " + std::to_string(expected) + " bytes of data for its shape, found " +
                               std::to_string(found)));
  check_grid(meta_path, data.start, data.step, shape.rows);
  data.T = shape.rows;
  return cube;
}

// inf is no more usable than NaN: both are missing points downstream.
void infinite_to_nan(float* values, size_t count) {
#pragma omp parallel for schedule(static)
  for (long long i = 0; i < static_cast<long long>(count); ++i)
    if (!std::isfinite(values[i])) values[i] = NAN;
}

// values.npy read with pread, a batch of columns at a time: each row's columns are read in spans
// (neighbouring columns closer than kSpanGap share one read), so a batch of a group-sorted cube
// reads its bytes once, and no more than one batch's values are ever held.
class NpyValues final : public ValueSource {
 public:
  NpyValues(File file, std::string path, NpyShape shape)
      : file_(std::move(file)), path_(std::move(path)), shape_(shape) {}

  void gather(const uint32_t* columns, size_t n, float* out) const override {
    if (n == 0) return;
    const size_t T = shape_.rows, N = shape_.cols;
    const int fd = ::fileno(file_.get());
    std::string failure;
    auto fail = [&] {
#pragma omp critical
      failure = std::string("cannot read: ") + (errno ? std::strerror(errno) : "the file is shorter than its shape");
    };
    // Every column in file order: the whole [T][N] array is one contiguous read, in large pieces.
    bool everything = n == N;
    for (size_t k = 0; everything && k < n; ++k) everything = columns[k] == k;
    if (everything) {
      const size_t rows = std::max<size_t>(1, kPieceBytes / (N * sizeof(float)));
#pragma omp parallel for schedule(dynamic, 1)
      for (size_t t0 = 0; t0 < T; t0 += rows) {
        const size_t count = std::min(rows, T - t0);
        const off_t at = static_cast<off_t>(shape_.data_offset + t0 * N * sizeof(float));
        if (!read_fully(fd, out + t0 * N, count * N * sizeof(float), at)) fail();
      }
      if (!failure.empty()) throw InputError(where(path_, 0, failure));
      infinite_to_nan(out, T * n);
      return;
    }
    // Otherwise each row is read in spans of nearby columns (in file order, whatever the order
    // asked for), each column then put where it was asked.
    std::vector<uint32_t> order(n);  // positions in `out`, by column
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return columns[a] < columns[b]; });
    struct Span {
      uint32_t first, end;  // columns [first, end) read together
      size_t k0, k1;        // the entries of `order` it serves
      bool direct;          // exactly the columns at out positions order[k0], order[k0] + 1, ...
    };
    std::vector<Span> spans;
    for (size_t k = 0; k < n;) {
      size_t k1 = k + 1;
      while (k1 < n && columns[order[k1]] - columns[order[k1 - 1]] <= kSpanGap &&
             columns[order[k1]] - columns[order[k]] < kSpanMax)
        ++k1;
      Span s{columns[order[k]], columns[order[k1 - 1]] + 1, k, k1, false};
      s.direct = s.end - s.first == k1 - k;
      for (size_t q = k + 1; s.direct && q < k1; ++q) s.direct = order[q] == order[k] + (q - k);
      spans.push_back(s);
      k = k1;
    }
#pragma omp parallel
    {
      std::vector<float> scratch;
#pragma omp for schedule(dynamic, 4)
      for (size_t t = 0; t < T; ++t) {
        for (const Span& s : spans) {
          const size_t width = s.end - s.first;
          float* into = s.direct ? out + t * n + order[s.k0] : (scratch.resize(width), scratch.data());
          const off_t at = static_cast<off_t>(shape_.data_offset + (t * N + s.first) * sizeof(float));
          if (!read_fully(fd, into, width * sizeof(float), at)) {
            fail();
            continue;
          }
          if (!s.direct)
            for (size_t k = s.k0; k < s.k1; ++k) out[t * n + order[k]] = scratch[columns[order[k]] - s.first];
        }
      }
    }
    if (!failure.empty()) throw InputError(where(path_, 0, failure));
    infinite_to_nan(out, T * n);
  }

  bool gather_observed(const uint32_t*, size_t, uint8_t*) const override { return false; }

 private:
  static constexpr uint32_t kSpanGap = 1024;      // columns (4 KiB): closer neighbours share a read
  static constexpr uint32_t kSpanMax = 1u << 20;  // columns per read at most (4 MiB of scratch)
  static constexpr size_t kPieceBytes = size_t{16} << 20;  // one read of whole rows

  static bool read_fully(int fd, float* into, size_t bytes, off_t at) {
    char* p = reinterpret_cast<char*>(into);
    errno = 0;
    while (bytes > 0) {
      const ssize_t got = ::pread(fd, p, bytes, at);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      at += got;
      bytes -= static_cast<size_t>(got);
    }
    return true;
  }

  File file_;
  std::string path_;
  NpyShape shape_;
};

}  // namespace

OpenedCube open_cube(const std::string& dir, const IngestOptions& options) {
  CubeHeader header = open_cube_header(dir, options);
  OpenedCube cube;
  cube.header = std::move(header.data);
  cube.values = std::make_unique<NpyValues>(std::move(header.values_file), header.values_path, header.shape);
  return cube;
}

Dataset read_cube(const std::string& dir, const IngestOptions& options) {
  CubeHeader cube = open_cube_header(dir, options);
  Dataset& data = cube.data;
  const size_t expected = cube.shape.rows * cube.shape.cols * sizeof(float);
  data.values.resize(cube.shape.rows * cube.shape.cols);
  if (expected && std::fread(data.values.data(), 1, expected, cube.values_file.get()) != expected)
    throw InputError(where(cube.values_path, 0, std::string("cannot read: ") + std::strerror(errno)));
  infinite_to_nan(data.values.data(), data.values.size());
  return std::move(data);
}

void write_cube(const Dataset& data, const std::string& dir) {
  const size_t N = data.N();
  if (data.values.size() != data.T * N)
    throw std::invalid_argument("write_cube: values hold " + std::to_string(data.values.size()) +
                                " points, not T*N");
  AtomicDir out(dir);
  const fs::path temp = out.temp_path();

  AtomicFile keys_file((temp / "keys.csv").string());
  std::string buffer;
  for (size_t d = 0; d < data.keys.num_dims(); ++d) {
    if (d) buffer += ',';
    csv::append_field(buffer, data.keys.dims[d]);
  }
  buffer += '\n';
  if (!data.keys.dims.empty()) {
    for (size_t s = 0; s < N; ++s) {
      for (size_t d = 0; d < data.keys.num_dims(); ++d) {
        if (d) buffer += ',';
        csv::append_field(buffer, data.keys.value(s, d));
      }
      buffer += '\n';
      if (buffer.size() >= (1 << 20)) {
        keys_file.write(buffer);
        buffer.clear();
      }
    }
  }
  keys_file.write(buffer);
  keys_file.commit();

  AtomicFile values_file((temp / "values.npy").string());
  values_file.write(npy_header(data.T, N));
  values_file.write(data.values.data(), data.values.size() * sizeof(float));
  values_file.commit();

  const auto role = [&](const std::string& name) {
    return name.empty() || data.keys.dim_index(name) < 0 ? json(nullptr) : json(name);
  };
  const json meta = {{"start", format_iso(data.start)},
                     {"step_seconds", data.step},
                     {"dims", data.keys.dims},
                     {"group_dim", role(data.group_dim)},
                     {"stack_dim", role(data.stack_dim)}};
  AtomicFile meta_file((temp / "meta.json").string());
  meta_file.write(meta.dump(2) + "\n");
  meta_file.commit();

  out.commit();
}

}  // namespace vigil
