// Raised alarms -> Alertmanager /api/v2/alerts (the policy is in include/vigil/alertmanager.hpp).
#include "vigil/alertmanager.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "io/http_client.hpp"
#include "vigil/error.hpp"
#include "vigil/openmetrics.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using Labels = std::map<std::string, std::string>;

struct SeverityLevel {
  const char* vigil;
  const char* alertmanager;
};
// vigil's severities (host/decide/alarms.cpp) and the values routing rules conventionally use.
constexpr SeverityLevel kSeverities[] = {{"critical", "critical"}, {"major", "warning"}, {"minor", "info"}};

int severity_rank(const std::string& vigil_severity) {
  for (int r = 0; r < 3; ++r)
    if (vigil_severity == kSeverities[r].vigil) return r;
  return 2;
}

std::string label_key(const Labels& labels) { return json(labels).dump(); }

Labels without_severity(Labels labels) {
  labels.erase("severity");
  return labels;
}

std::string percent(double change) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.0f%%", change * 100);
  return text;
}

std::string fill_template(std::string text, const std::map<std::string, std::string>& values) {
  for (const auto& [key, value] : values) {
    const std::string placeholder = "{" + key + "}";
    for (size_t at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, at + value.size()))
      text.replace(at, placeholder.size(), value);
  }
  return text;
}

std::string failure(const std::string& base, const std::string& what, size_t sent) {
  return "alertmanager " + base + ": " + what + "; the output files are written, " +
         (sent ? std::to_string(sent) + " alerts were pushed before the failure" : std::string("nothing was pushed"));
}

}  // namespace

std::vector<AlertmanagerAlert> alertmanager_alerts(const Dataset& data, const std::vector<Alarm>& alarms,
                                                   const Config& config) {
  const AlertmanagerSettings& settings = config.alertmanager;
  // Label names of the dimensions: sanitised, clear of the fixed labels and of each other.
  std::vector<std::string> names;
  std::set<std::string> taken = {"alertname", "severity", "direction"};
  for (const std::string& dim : data.keys.dims) {
    std::string name = sanitize_label_name(dim);
    while (taken.count(name)) name = "dim_" + name;
    taken.insert(name);
    names.push_back(name);
  }
  std::vector<AlertmanagerAlert> alerts;
  for (size_t a = 0; a < alarms.size(); ++a) {
    const Alarm& al = alarms[a];
    AlertmanagerAlert out;
    out.severity_rank = severity_rank(al.severity);
    out.starts_at = data.time_at(al.first);
    out.ended_at = data.time_at(al.last) + data.step;
    out.open = al.last + 1 + static_cast<size_t>(std::max(0, config.detection.merge_gap_points)) >= data.T;
    const std::string direction = to_string(al.direction);
    out.labels["alertname"] = settings.alertname;
    out.labels["severity"] = kSeverities[out.severity_rank].alertmanager;
    out.labels["direction"] = direction;
    std::string scope;
    std::map<std::string, std::string> fill = {
        {"alertname", settings.alertname}, {"severity", out.labels["severity"]}, {"direction", direction}};
    for (const std::string& dim : data.keys.dims) fill.emplace(dim, "");  // the fixed names win
    for (const auto& [d, code] : al.scope) {
      const std::string& value = data.keys.dictionary[d][code];
      out.labels[names[d]] = value;
      if (fill[data.keys.dims[d]].empty()) fill[data.keys.dims[d]] = value;
      scope += (scope.empty() ? "" : ",") + data.keys.dims[d] + "=" + value;
    }
    if (scope.empty()) scope = "every series";
    // The alarm's id in alarms.jsonl (host/io/outputs.cpp numbers them the same way).
    const std::string id = "alarm-" + std::to_string(a + 1);
    const std::string when = out.open ? "since " + format_iso(out.starts_at)
                                      : "from " + format_iso(out.starts_at) + " to " + format_iso(out.ended_at);
    out.annotations["summary"] = direction + " " + percent(al.impact) + " on " + scope + " (" +
                                 std::to_string(al.series.size()) + " series) " + when;
    char peak[32];
    std::snprintf(peak, sizeof peak, "%.1f", al.peak_z);
    out.annotations["description"] =
        "vigil " + id + " (" + al.severity + "): " + std::to_string(al.series.size()) + " series of scope " + scope +
        " moved " + direction + " " + when + (out.open ? ", still open at the end of the data" : "") +
        "; median change " + percent(al.impact) + ", peak z " + peak + ", " + std::to_string(al.drops) +
        " drop and " + std::to_string(al.spikes) + " spike episodes. The ledger lists each episode.";
    if (!settings.runbook_url.empty()) out.annotations["runbook_url"] = fill_template(settings.runbook_url, fill);
    out.annotations["vigil_severity"] = al.severity;
    out.annotations["vigil_alarm"] = id;
    ordered_json evidence;
    evidence["start"] = format_iso(out.starts_at);
    evidence["end"] = format_iso(out.ended_at);
    evidence["open"] = out.open;
    evidence["peak_z"] = std::round(static_cast<double>(al.peak_z) * 100) / 100;
    evidence["impact"] = std::round(static_cast<double>(al.impact) * 1e4) / 1e4;
    evidence["density"] = std::round(al.density * 1e4) / 1e4;
    evidence["n_series"] = al.series.size();
    evidence["drop_episodes"] = al.drops;
    evidence["spike_episodes"] = al.spikes;
    out.annotations["evidence"] = evidence.dump();
    alerts.push_back(std::move(out));
  }
  return alerts;
}

std::string describe(const PushReport& r, const std::string& url) {
  std::string line = "alertmanager " + http::trim_base_url(url) + ": " + std::to_string(r.firing) + " firing, " +
                     std::to_string(r.resolved) + " resolved";
  if (r.severity_changed) line += ", " + std::to_string(r.severity_changed) + " resolved for a new severity";
  line += "; not pushed: " + std::to_string(r.past) + " that ended earlier and Alertmanager does not hold firing, " +
          std::to_string(r.superseded) + " superseded by a later alarm with the same labels (all in --alarms)";
  return line;
}

PushReport push_alarms(const Dataset& data, const std::vector<Alarm>& alarms, const Config& config,
                       const PushOptions& options) {
  const AlertmanagerSettings& settings = config.alertmanager;
  const std::string base = http::trim_base_url(options.url);
  const int64_t now = options.now ? options.now : static_cast<int64_t>(std::time(nullptr));
  const int64_t resend_until = now + static_cast<int64_t>(std::llround(settings.resend_minutes * 60));
  const int64_t recent_since = now - static_cast<int64_t>(std::llround(settings.recent_minutes * 60));
  http::RetryPolicy retry;
  retry.retries = options.retries;
  retry.first_delay_seconds = options.first_retry_delay_seconds;
  PushReport report;

  // One alert per label set: the open one, else the one that ended last.
  const std::vector<AlertmanagerAlert> alerts = alertmanager_alerts(data, alarms, config);
  std::map<std::string, size_t> latest;
  for (size_t i = 0; i < alerts.size(); ++i) {
    auto [it, inserted] = latest.emplace(label_key(alerts[i].labels), i);
    if (inserted) continue;
    ++report.superseded;
    const AlertmanagerAlert& kept = alerts[it->second];
    if (std::make_pair(alerts[i].open, alerts[i].ended_at) > std::make_pair(kept.open, kept.ended_at)) it->second = i;
  }

  // What Alertmanager holds firing under our alertname (silenced and inhibited ones included).
  http::Request get;
  get.url = base + "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true&filter=" +
            http::url_encode("alertname=\"" + settings.alertname + "\"");
  get.timeout_seconds = settings.timeout_seconds;
  const http::Response held_response = http::perform_with_retries(get, retry);
  if (held_response.status != 200)
    throw ServiceError(failure(base, "reading its alerts: " + http::describe_failure(held_response), 0),
                       ServiceError::kPushFailed);
  std::set<std::string> held;
  std::map<std::string, std::vector<Labels>> held_by_scope;  // labels without severity -> held label sets
  try {
    for (const json& alert : json::parse(held_response.body)) {
      Labels labels = alert.at("labels").get<Labels>();
      held.insert(label_key(labels));
      held_by_scope[label_key(without_severity(labels))].push_back(labels);
    }
  } catch (const json::exception& e) {
    throw ServiceError(failure(base, std::string("its alert list is not JSON: ") + e.what(), 0),
                       ServiceError::kPushFailed);
  }

  json batches[3] = {json::array(), json::array(), json::array()};  // by severity rank
  std::set<std::string> resolved_old;
  for (const auto& [key, i] : latest) {
    const AlertmanagerAlert& a = alerts[i];
    int64_t ends;
    if (a.open) {
      ends = resend_until;
      ++report.firing;
    } else if (held.count(key)) {
      ends = a.ended_at;
      ++report.resolved;
    } else if (a.ended_at >= recent_since) {
      ends = resend_until;
      ++report.firing;
    } else {
      ++report.past;
      continue;
    }
    json alert = {{"labels", a.labels},
                  {"annotations", a.annotations},
                  {"startsAt", format_iso(a.starts_at)},
                  {"endsAt", format_iso(ends)}};
    if (!options.generator_url.empty()) alert["generatorURL"] = options.generator_url;
    batches[a.severity_rank].push_back(std::move(alert));
    // The same scope and direction held at another severity: resolved, so it does not page twice.
    auto other = held_by_scope.find(label_key(without_severity(a.labels)));
    if (other == held_by_scope.end()) continue;
    for (const Labels& labels : other->second) {
      const std::string other_key = label_key(labels);
      if (other_key == key || latest.count(other_key) || !resolved_old.insert(other_key).second) continue;
      batches[a.severity_rank].push_back(
          {{"labels", labels}, {"startsAt", format_iso(now)}, {"endsAt", format_iso(now)}});
      ++report.severity_changed;
    }
  }

  http::Request post;
  post.method = "POST";
  post.url = base + "/api/v2/alerts";
  post.timeout_seconds = settings.timeout_seconds;
  post.headers.push_back("Content-Type: application/json");
  size_t sent = 0;
  for (const json& batch : batches) {
    if (batch.empty()) continue;
    post.body = batch.dump();
    const http::Response r = http::perform_with_retries(post, retry);
    ++report.requests;
    if (r.status != 200) {
      std::string what = http::describe_failure(r);
      if (r.status != 0) what += ": " + r.body.substr(0, 300);
      std::replace(what.begin(), what.end(), '\n', ' ');
      throw ServiceError(failure(base, "pushing alerts: " + what, sent), ServiceError::kPushFailed);
    }
    sent += batch.size();
  }
  return report;
}

}  // namespace vigil
