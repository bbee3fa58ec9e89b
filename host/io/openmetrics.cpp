// OpenMetrics text writers (include/vigil/openmetrics.hpp).
#include "vigil/openmetrics.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>

#include "vigil/atomic_file.hpp"
#include "vigil/error.hpp"

namespace vigil {
namespace {

void append_label_value(std::string& out, const std::string& value) {
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
}

void append_sample_value(std::string& out, float v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char text[32];
    const auto r = std::to_chars(text, text + sizeof text, v);  // shortest text of the float32
    out.append(text, r.ptr);
  }
}

// Sanitised label names of `dims` (all but `skip`, -1 for none), checked for collisions.
std::vector<std::string> label_names(const std::vector<std::string>& dims, int skip, const std::string& source) {
  std::vector<std::string> names;
  std::map<std::string, std::string> seen;
  for (size_t d = 0; d < dims.size(); ++d) {
    const std::string name = static_cast<int>(d) == skip ? std::string() : sanitize_label_name(dims[d]);
    if (!name.empty()) {
      auto [it, inserted] = seen.emplace(name, dims[d]);
      if (!inserted)
        throw InputError(where(source, 0, "dimensions '" + it->second + "' and '" + dims[d] +
                                              "' both become the label '" + name + "'"));
    }
    names.push_back(name);
  }
  return names;
}

// `{a="x",b="y"}` for one series (names empty are left out); "" when there are no labels.
std::string label_set(const Keys& keys, size_t series, const std::vector<std::string>& names) {
  std::string out;
  for (size_t d = 0; d < names.size(); ++d) {
    if (names[d].empty()) continue;
    out += out.empty() ? "{" : ",";
    out += names[d];
    out += "=\"";
    append_label_value(out, keys.value(series, d));
    out += '"';
  }
  if (!out.empty()) out += '}';
  return out;
}

}  // namespace

std::string sanitize_label_name(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0])) || out.rfind("__", 0) == 0) out = "dim_" + out;
  return out;
}

bool is_metric_name(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (!(std::isalpha(c) || c == '_' || c == ':' || (i > 0 && std::isdigit(c)))) return false;
  }
  return true;
}

void write_openmetrics_values(const Dataset& data, const std::string& metric_dim, const std::string& default_name,
                              const std::string& path) {
  const int metric = data.keys.dim_index(metric_dim);
  const std::vector<std::string> names = label_names(data.keys.dims, metric, data.source);
  // Series by family: each family's samples must come in one piece.
  std::map<std::string, std::vector<size_t>> families;
  for (size_t i = 0; i < data.N(); ++i) {
    const std::string family = metric >= 0 ? data.keys.value(i, static_cast<size_t>(metric)) : default_name;
    if (!is_metric_name(family))
      throw InputError(where(data.source, 0, "'" + family + "' is not a legal metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"));
    families[family].push_back(i);
  }
  AtomicFile out(path);
  std::string buffer;
  for (const auto& [family, members] : families) {
    buffer += "# TYPE " + family + " gauge\n";
    for (size_t i : members) {
      const std::string labels = label_set(data.keys, i, names);
      for (size_t t = 0; t < data.T; ++t) {
        buffer += family;
        buffer += labels;
        buffer += ' ';
        append_sample_value(buffer, data.at(t, i));
        buffer += ' ';
        buffer += std::to_string(data.time_at(t));
        buffer += '\n';
        if (buffer.size() >= (1u << 20)) {
          out.write(buffer);
          buffer.clear();
        }
      }
    }
  }
  buffer += "# EOF\n";
  out.write(buffer);
  out.commit();
}

struct OpenMetricsScoresWriter::Family {
  const char* name;
  const char* help;
  std::function<float(const Scores&, const std::vector<float>& final_score, size_t p, size_t series)> value;
};

namespace {

// The families written, in file order. The band's bounds, once the scores carry them, are two
// more entries here.
const std::vector<OpenMetricsScoresWriter::Family>& families() {
  static const std::vector<OpenMetricsScoresWriter::Family> list = {
      {"vigil_forecast", "vigil's forecast of the value, in the input's units",
       [](const Scores& s, const std::vector<float>&, size_t p, size_t i) {
         return inverse_transform(s.forecast[p], s.transform[i]);
       }},
      {"vigil_z", "the value's distance from the forecast in robust standard deviations (z_forecast)",
       [](const Scores& s, const std::vector<float>&, size_t p, size_t) { return s.z[p]; }},
      {"vigil_score", "vigil's final anomaly score of the point, 0 to 1 (0.5 at one threshold)",
       [](const Scores&, const std::vector<float>& f, size_t p, size_t) { return f[p]; }},
  };
  return list;
}

}  // namespace

OpenMetricsScoresWriter::OpenMetricsScoresWriter(const std::string& path, const std::vector<std::string>& dims)
    : path_(path), label_names_(label_names(dims, -1, path)) {
  for (size_t f = 0; f < families().size(); ++f) {
    std::FILE* part = std::tmpfile();
    if (!part) throw InputError(where(path, 0, std::string("cannot create a temporary file: ") + std::strerror(errno)));
    parts_.push_back(part);
  }
}

OpenMetricsScoresWriter::~OpenMetricsScoresWriter() {
  for (std::FILE* part : parts_) std::fclose(part);
}

void OpenMetricsScoresWriter::append(const Dataset& batch, const Scores& scores, const std::vector<float>& final_score) {
  const size_t N = batch.N();
  std::vector<std::string> stamps(batch.T);
  for (size_t t = 0; t < batch.T; ++t) stamps[t] = std::to_string(batch.time_at(t));
  for (size_t f = 0; f < families().size(); ++f) {
    const Family& family = families()[f];
    std::string buffer;
    for (size_t i = 0; i < N; ++i) {
      const std::string prefix = std::string(family.name) + label_set(batch.keys, i, label_names_) + ' ';
      for (size_t t = 0; t < batch.T; ++t) {
        const size_t p = t * N + i;
        if (!batch.was_observed(t, i)) continue;
        const float v = family.value(scores, final_score, p, i);
        if (!std::isfinite(v)) continue;
        buffer += prefix;
        append_sample_value(buffer, v);
        buffer += ' ';
        buffer += stamps[t];
        buffer += '\n';
      }
    }
    if (std::fwrite(buffer.data(), 1, buffer.size(), parts_[f]) != buffer.size())
      throw InputError(where(path_, 0, std::string("cannot write a temporary file: ") + std::strerror(errno)));
  }
}

AtomicFile& OpenMetricsScoresWriter::file() {
  if (staged_) return *staged_;
  staged_ = std::make_unique<AtomicFile>(path_);
  AtomicFile& out = *staged_;
  std::vector<char> chunk(1 << 20);
  for (size_t f = 0; f < families().size(); ++f) {
    out.write(std::string("# TYPE ") + families()[f].name + " gauge\n# HELP " + families()[f].name + ' ' +
              families()[f].help + '\n');
    std::rewind(parts_[f]);
    size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), parts_[f])) > 0) out.write(chunk.data(), n);
    if (std::ferror(parts_[f])) throw InputError(where(path_, 0, "cannot read back a temporary file"));
  }
  out.write("# EOF\n");
  return out;
}

void OpenMetricsScoresWriter::commit() { file().commit(); }

}  // namespace vigil
