#include "vigil/tools/numpy_peer.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace vigil {
namespace {

namespace fs = std::filesystem;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the peer's .npy files are written as '<f4' in place");

// A temporary directory that is removed however the run ends.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "vigil-numpy-peer-XXXXXX").string();
    if (::mkdtemp(pattern.data())) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  bool ok() const { return !path_.empty(); }
  std::string file(const char* name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A float32 [rows][cols] .npy (format 1.0), C order: what np.load reads as the time-major array.
bool write_npy(const std::string& path, const float* data, size_t rows, size_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                     std::to_string(cols) + "), }";
  // The header (magic, version, length, dict, newline) is padded to a multiple of 64 bytes.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict.push_back('\n');
  std::ofstream out(path, std::ios::binary);
  const uint16_t header_length = static_cast<uint16_t>(dict.size());
  out.write("\x93NUMPY\x01\x00", 8);
  out.write(reinterpret_cast<const char*>(&header_length), 2);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(rows * cols * sizeof(float)));
  return static_cast<bool>(out);
}

nlohmann::json params_json(const ForecastParams& p, const uint8_t* transform, size_t N) {
  nlohmann::json j;
  j["start"] = p.start;
  j["step"] = p.step;
  j["points_per_day"] = p.points_per_day;
  j["daily_knots"] = p.daily_knots;
  j["weekly_knots"] = p.weekly_knots;
  j["scale_slots"] = p.scale_slots;
  j["level_rate"] = p.level_rate;
  j["daily_rate"] = p.daily_rate;
  j["weekly_rate"] = p.weekly_rate;
  j["scale_slot_rate"] = p.scale_slot_rate;
  j["scale_global_rate"] = p.scale_global_rate;
  j["model_error_rate"] = p.model_error_rate;
  j["scale_prior_visits"] = p.scale_prior_visits;
  j["clip_z"] = p.clip_z;
  j["outlier_z"] = p.outlier_z;
  j["shift_horizon"] = p.shift_horizon;
  j["warmup_steps"] = p.warmup_steps;
  j["min_history_steps"] = p.min_history_steps;
  j["report_from_steps"] = p.report_from_steps;
  j["scale_floor_log"] = p.scale_floor_log;
  j["scale_floor_rel"] = p.scale_floor_rel;
  j["derivative_points"] = p.derivative_points;
  j["volatility_rate"] = p.volatility_rate;
  j["count_floor"] = p.count_floor;
  // float -> JSON double is exact and the script rounds back to float32: the same rates.
  j["transform"] = std::vector<int>(transform, transform + N);
  return j;
}

// Single-quoted for /bin/sh.
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Exit status of a shell command (-1 when it did not run or was killed).
int run_shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The first interpreter that imports NumPy. A python3 on PATH may be a separate installation
// (pyenv, a venv) without it while the distribution's /usr/bin/python3 has it.
std::optional<std::string> find_python(std::string& why_not) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("VIGIL_PYTHON"); env && *env) candidates.push_back(env);
  else candidates = {"python3", "/usr/bin/python3"};
  for (const std::string& python : candidates)
    if (run_shell(shell_quote(python) + " -c 'import numpy' >/dev/null 2>&1") == 0) return python;
  why_not = "no Python interpreter with NumPy (tried";
  for (const std::string& python : candidates) why_not += " " + python;
  why_not += "; install python3-numpy, or set VIGIL_PYTHON)";
  return std::nullopt;
}

std::optional<std::string> find_script(std::string& why_not) {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("VIGIL_NUMPY_PEER"); env && *env) {
    candidates.emplace_back(env);
  } else {
#ifdef VIGIL_SOURCE_DIR
    candidates.push_back(fs::path(VIGIL_SOURCE_DIR) / "bench" / "numpy_peer.py");
#endif
    // A relocated tree: the script beside the executable or one level above it (build/vigil
    // next to bench/).
    std::error_code ec;
    const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
    if (!ec) {
      candidates.push_back(exe_dir / "bench" / "numpy_peer.py");
      candidates.push_back(exe_dir.parent_path() / "bench" / "numpy_peer.py");
    }
  }
  for (const fs::path& path : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) return path.string();
  }
  why_not = "bench/numpy_peer.py not found (tried";
  for (const fs::path& path : candidates) why_not += " " + path.string();
  why_not += "; set VIGIL_NUMPY_PEER)";
  return std::nullopt;
}

double number_or_nan(const nlohmann::ordered_json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

std::optional<NumpyPeerResult> fail(std::string* why_not, const std::string& why) {
  if (why_not) *why_not = "numpy peer: " + why;
  return std::nullopt;
}

}  // namespace

bool numpy_peer_available(std::string* why_not) {
  std::string why;
  const bool available = find_python(why) && find_script(why);
  if (!available && why_not) *why_not = "numpy peer: " + why;
  return available;
}

std::vector<std::pair<std::string, std::string>> numpy_peer_environment() {
  return {{"OMP_NUM_THREADS", "1"}, {"OPENBLAS_NUM_THREADS", "1"}, {"MKL_NUM_THREADS", "1"}};
}

std::optional<std::vector<std::string>> numpy_peer_command(const ForecastParams& params, const uint8_t* transform,
                                                           size_t N, const std::string& values_npy,
                                                           const std::string& params_path, std::string* why_not) {
  std::string why;
  const std::optional<std::string> python = find_python(why);
  const std::optional<std::string> script = python ? find_script(why) : std::nullopt;
  if (!python || !script) {
    if (why_not) *why_not = "numpy peer: " + why;
    return std::nullopt;
  }
  std::ofstream out(params_path);
  out << params_json(params, transform, N).dump();
  if (!out) {
    if (why_not) *why_not = "numpy peer: cannot write " + params_path;
    return std::nullopt;
  }
  return std::vector<std::string>{*python, *script, "--values", values_npy, "--params", params_path};
}

std::optional<NumpyPeerResult> run_numpy_peer(const ForecastParams& params, const float* values,
                                              const uint8_t* transform, size_t T, size_t N,
                                              const float* reference_z, std::string* why_not) {
  std::string why;
  const std::optional<std::string> python = find_python(why);
  if (!python) return fail(why_not, why);
  const std::optional<std::string> script = find_script(why);
  if (!script) return fail(why_not, why);

  ScratchDir dir;
  if (!dir.ok()) return fail(why_not, std::string("cannot create a temporary directory: ") + std::strerror(errno));
  const std::string values_path = dir.file("values.npy"), params_path = dir.file("params.json");
  const std::string reference_path = dir.file("reference_z.npy");
  const std::string result_path = dir.file("result.json"), error_path = dir.file("stderr.txt");
  if (!write_npy(values_path, values, T, N) ||
      (reference_z && !write_npy(reference_path, reference_z, T, N)))
    return fail(why_not, "cannot write the inputs to " + values_path);
  {
    std::ofstream out(params_path);
    out << params_json(params, transform, N).dump();
    if (!out) return fail(why_not, "cannot write " + params_path);
  }

  // One thread: the figure is per core (the script pins the pools too, before importing NumPy).
  std::string command = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 " + shell_quote(*python) +
                        " " + shell_quote(*script) + " --values " + shell_quote(values_path) + " --params " +
                        shell_quote(params_path);
  if (reference_z) command += " --reference-z " + shell_quote(reference_path);
  command += " >" + shell_quote(result_path) + " 2>" + shell_quote(error_path);
  const int code = run_shell(command);
  if (code != 0) {
    std::string err = read_text(error_path);
    if (err.size() > 2000) err = "..." + err.substr(err.size() - 2000);
    return fail(why_not, *script + " exited with " + std::to_string(code) + (err.empty() ? "" : ": " + err));
  }

  NumpyPeerResult r;
  try {
    r.json = nlohmann::ordered_json::parse(read_text(result_path));
    r.series = r.json.at("series").get<size_t>();
    r.points = r.json.at("points").get<size_t>();
    r.seconds = r.json.at("seconds").get<double>();
    r.points_per_second = number_or_nan(r.json, "points_per_second");
    r.threads = r.json.at("threads").get<int>();
    r.numpy_version = r.json.at("numpy").get<std::string>();
    if (r.json.contains("pandas") && r.json["pandas"].is_string()) r.pandas_version = r.json["pandas"].get<std::string>();
    if (r.json.contains("z_agreement")) {
      const auto& a = r.json["z_agreement"];
      NumpyPeerAgreement agreement;
      agreement.compared = a.at("compared").get<size_t>();
      agreement.nan_mismatch = a.at("nan_mismatch").get<size_t>();
      agreement.median_abs_diff = number_or_nan(a, "median_abs_diff");
      agreement.p99_abs_diff = number_or_nan(a, "p99_abs_diff");
      agreement.max_abs_diff = number_or_nan(a, "max_abs_diff");
      agreement.share_within_0_05 = number_or_nan(a, "share_within_0.05");
      r.z_agreement = agreement;
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(why_not, "unreadable report from " + *script + ": " + e.what());
  }
  r.python = *python;
  return r;
}

}  // namespace vigil
