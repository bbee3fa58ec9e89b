// `vigil eval`: raised alarms against a truth file (DESIGN.md "Truth files"), and what the
// decision ledger did around each special event and each missed incident.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vigil/error.hpp"
#include "vigil/tools/scenario.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

const char* const kKinds[] = {"incident", "anticipated", "external_low", "external_high"};
const char* const kSpecialKinds[] = {"anticipated", "external_low", "external_high"};

// Calls `handle(object, line_number)` for every non-blank line of a JSON Lines file.
template <typename Handle>
void for_each_json_line(const std::string& path, Handle handle) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(where(path, 0, "cannot read"));
  std::string line;
  for (long long number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    json object;
    try {
      object = json::parse(line);
    } catch (const json::parse_error& e) {
      // nlohmann says "[json.exception.parse_error.101] parse error at line 1, column 10: ...";
      // the line is ours, the column and the reason are worth keeping.
      std::string what = e.what();
      const size_t column = what.find("column ");
      if (column != std::string::npos) what = what.substr(column);
      throw InputError(where(path, number, "not valid JSON at " + what));
    }
    if (!object.is_object()) throw InputError(where(path, number, "not a JSON object"));
    handle(object, number);
  }
}

// ISO-8601 text or unix seconds.
int64_t time_field(const json& object, const char* key, const std::string& path, long long line) {
  const auto it = object.find(key);
  if (it == object.end()) throw InputError(where(path, line, std::string("missing \"") + key + "\""));
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    if (const auto t = parse_timestamp(it->get<std::string>())) return *t;
    throw InputError(where(path, line,
                           std::string("\"") + key + "\": cannot read '" + it->get<std::string>() +
                               "' as a time (ISO-8601 or unix seconds)"));
  }
  throw InputError(where(path, line, std::string("\"") + key + "\" is not a time"));
}

std::string string_field(const json& object, const char* key, const std::string& path, long long line,
                         bool required) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (required) throw InputError(where(path, line, std::string("missing \"") + key + "\""));
    return "";
  }
  if (!it->is_string()) throw InputError(where(path, line, std::string("\"") + key + "\" is not a string"));
  return it->get<std::string>();
}

// A dimension value as text: strings as they are, anything else (a number) as JSON.
std::string value_text(const json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::map<std::string, std::string> dim_values(const json& object, const std::string& what,
                                              const std::string& path, long long line) {
  if (!object.is_object())
    throw InputError(where(path, line, what + " is not an object of dimension values"));
  std::map<std::string, std::string> out;
  for (const auto& [dim, value] : object.items()) out[dim] = value_text(value);
  return out;
}

bool contains(const std::vector<std::string>& values, const std::string& v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

// A series lies in a scope when, for every dimension of the scope, it has that dimension and
// its value is one of the listed ones.
bool series_in_scope(const std::map<std::string, std::string>& series, const TruthRecord& record) {
  for (const auto& [dim, values] : record.scope) {
    const auto it = series.find(dim);
    if (it == series.end() || !contains(values, it->second)) return false;
  }
  return true;
}

// An episode without member series (a ledger notice) stands for every series of its scope: a
// dimension it does not name may take any value.
bool partial_scope_intersects(const std::map<std::string, std::string>& scope, const TruthRecord& record) {
  for (const auto& [dim, values] : record.scope) {
    const auto it = scope.find(dim);
    if (it != scope.end() && !contains(values, it->second)) return false;
  }
  return true;
}

int64_t slack_of(const AlarmRecord& a, int64_t step) { return step > 0 ? step : a.step_seconds; }

bool matches(const AlarmRecord& a, const TruthRecord& r, int64_t step) {
  const int64_t slack = slack_of(a, step);
  if (!(a.start <= r.end + slack && a.end >= r.start - slack)) return false;
  // Without its member series (a ledger notice) or with part of them left out of the line (an
  // alarm storm), the alarm's scope stands for the series it does not list.
  if (a.series.empty() || a.series_truncated > 0) {
    if (partial_scope_intersects(a.scope, r)) return true;
  }
  for (const auto& series : a.series)
    if (series_in_scope(series, r)) return true;
  return false;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// NaN (undefined) becomes null in JSON.
ordered_json number_or_null(double v) { return std::isnan(v) ? ordered_json(nullptr) : ordered_json(v); }

std::string format_number(double v, int decimals) {
  if (std::isnan(v)) return "n/a";
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

std::string join_ids(const std::vector<std::string>& ids, size_t limit) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < limit; ++i) out += (i ? "," : "") + ids[i];
  if (ids.size() > limit) out += ",+" + std::to_string(ids.size() - limit) + " more";
  return ids.empty() ? "-" : out;
}

std::string reasons_text(const std::map<std::string, int>& reasons) {
  // Most frequent first: "anticipated_event: 12, external_event: 1".
  std::vector<std::pair<std::string, int>> sorted(reasons.begin(), reasons.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out;
  for (const auto& [reason, n] : sorted) out += (out.empty() ? "" : ", ") + reason + ": " + std::to_string(n);
  return out.empty() ? "no candidate episodes" : out;
}

// Left-aligned columns, two spaces apart.
std::string render_columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size(); ++c) {
      if (width.size() <= c) width.push_back(0);
      width[c] = std::max(width[c], row[c].size());
    }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(width[c] - row[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

bool is_incident(const TruthRecord& r) { return r.kind == "incident"; }

}  // namespace

std::string scope_text(const std::map<std::string, std::vector<std::string>>& scope) {
  std::string out;
  for (const auto& [dim, values] : scope)
    for (const std::string& v : values) out += (out.empty() ? "" : ";") + dim + "=" + v;
  return out.empty() ? "*" : out;
}

std::vector<TruthRecord> read_truth(const std::string& path) {
  std::vector<TruthRecord> records;
  for_each_json_line(path, [&](const json& o, long long line) {
    TruthRecord r;
    r.kind = string_field(o, "kind", path, line, true);
    if (std::find(std::begin(kKinds), std::end(kKinds), r.kind) == std::end(kKinds))
      throw InputError(where(
          path, line,
          "\"kind\" '" + r.kind + "' is not one of incident, anticipated, external_low, external_high"));
    r.name = string_field(o, "name", path, line, true);
    const auto scope = o.find("scope");
    if (scope == o.end()) throw InputError(where(path, line, "missing \"scope\""));
    if (!scope->is_object())
      throw InputError(where(path, line, "\"scope\" is not an object of dimension -> array of values"));
    for (const auto& [dim, values] : scope->items()) {
      if (!values.is_array() || values.empty())
        throw InputError(where(path, line, "\"scope\"." + dim + " is not a non-empty array of values"));
      for (const json& v : values) r.scope[dim].push_back(value_text(v));
    }
    r.start = time_field(o, "start", path, line);
    r.end = time_field(o, "end", path, line);
    if (r.end <= r.start) throw InputError(where(path, line, "\"end\" is not after \"start\""));
    r.onset = string_field(o, "onset", path, line, false);
    if (const auto factor = o.find("factor"); factor != o.end()) {
      if (!factor->is_object()) throw InputError(where(path, line, "\"factor\" is not an object of numbers"));
      for (const auto& [metric, value] : factor->items()) {
        if (!value.is_number())
          throw InputError(where(path, line, "\"factor\"." + metric + " is not a number"));
        r.factor[metric] = value.get<double>();
      }
    }
    records.push_back(std::move(r));
  });
  return records;
}

std::string truth_json(const TruthRecord& r) {
  ordered_json o;
  o["kind"] = r.kind;
  o["name"] = r.name;
  o["scope"] = ordered_json::object();
  for (const auto& [dim, values] : r.scope) o["scope"][dim] = values;
  o["start"] = format_iso(r.start);
  o["end"] = format_iso(r.end);
  if (!r.onset.empty()) o["onset"] = r.onset;
  if (!r.factor.empty()) o["factor"] = r.factor;
  return o.dump();
}

std::vector<AlarmRecord> read_alarms(const std::string& path, bool require_series) {
  std::vector<AlarmRecord> alarms;
  for_each_json_line(path, [&](const json& o, long long line) {
    AlarmRecord a;
    a.line = line;
    const auto id = o.find("id");
    a.id = id == o.end() || id->is_null() ? "line" + std::to_string(line) : value_text(*id);
    a.status = string_field(o, "status", path, line, true);
    a.reason = string_field(o, "reason", path, line, false);
    a.start = time_field(o, "start", path, line);
    a.end = time_field(o, "end", path, line);
    if (a.end < a.start) throw InputError(where(path, line, "\"end\" is before \"start\""));
    if (const auto scope = o.find("scope"); scope != o.end() && !scope->is_null())
      a.scope = dim_values(*scope, "\"scope\"", path, line);
    const auto series = o.find("series");
    if (series == o.end() || series->is_null()) {
      if (require_series) throw InputError(where(path, line, "missing \"series\""));
    } else {
      if (!series->is_array())
        throw InputError(where(path, line, "\"series\" is not an array of objects of dimension values"));
      for (const json& s : *series) a.series.push_back(dim_values(s, "an entry of \"series\"", path, line));
    }
    if (const auto truncated = o.find("series_truncated"); truncated != o.end() && truncated->is_number_unsigned())
      a.series_truncated = truncated->get<size_t>();
    if (const auto evidence = o.find("evidence"); evidence != o.end() && evidence->is_object()) {
      const auto step = evidence->find("step_seconds");
      if (step != evidence->end() && step->is_number())
        a.step_seconds = static_cast<int64_t>(step->get<double>());
    }
    alarms.push_back(std::move(a));
  });
  return alarms;
}

EvalResult evaluate(const std::vector<TruthRecord>& truth, const std::vector<AlarmRecord>& alarms,
                    int64_t step, const std::vector<AlarmRecord>* ledger) {
  EvalResult result;
  for (const char* kind : kSpecialKinds) result.false_alarms_by_kind[kind] = 0;
  result.false_alarms_by_kind["none"] = 0;
  for (const TruthRecord& r : truth) result.records.push_back({r, {}, {}, NAN, {}});
  // The earliest raised alarm matching each record: it sets an incident's detection delay.
  std::vector<const AlarmRecord*> earliest(truth.size(), nullptr);

  for (const AlarmRecord& a : alarms) {
    if (!a.raised()) continue;
    ++result.alarms;
    bool on_incident = false;
    std::vector<size_t> specials;  // the special events it fell on, in file order
    for (size_t i = 0; i < truth.size(); ++i) {
      if (!matches(a, truth[i], step)) continue;
      result.records[i].alarm_ids.push_back(a.id);
      if (!earliest[i] || a.start < earliest[i]->start) earliest[i] = &a;
      if (is_incident(truth[i]))
        on_incident = true;
      else
        specials.push_back(i);
    }
    if (!on_incident) {
      ++result.false_alarms;
      ++result.false_alarms_by_kind[specials.empty() ? "none" : truth[specials[0]].kind];
      for (size_t i : specials) result.records[i].false_alarm_ids.push_back(a.id);
    }
  }

  std::vector<double> alarms_per_incident, delays;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (!is_incident(truth[i])) continue;
    ++result.incidents;
    RecordOutcome& outcome = result.records[i];
    if (outcome.alarm_ids.empty()) continue;
    ++result.detected;
    alarms_per_incident.push_back(static_cast<double>(outcome.alarm_ids.size()));
    const int64_t alarm_step = slack_of(*earliest[i], step);
    if (alarm_step > 0) {
      outcome.delay_steps = static_cast<double>(std::max<int64_t>(0, earliest[i]->start - truth[i].start)) /
                            static_cast<double>(alarm_step);
      delays.push_back(outcome.delay_steps);
    }
  }
  result.recall = result.incidents ? static_cast<double>(result.detected) / result.incidents : NAN;
  result.alarms_per_incident_median = median(alarms_per_incident);
  result.delay_steps_median = median(delays);

  if (ledger) {
    result.has_ledger = true;
    for (const AlarmRecord& entry : *ledger)
      for (size_t i = 0; i < truth.size(); ++i)
        if (matches(entry, truth[i], step))
          ++result.records[i].ledger_reasons[entry.reason.empty() ? entry.status : entry.reason];
  }
  return result;
}

std::string eval_table(const EvalResult& r) {
  std::string out;
  const auto& fa = r.false_alarms_by_kind;
  std::string by_kind;
  for (const auto& [kind, n] : fa) by_kind += (by_kind.empty() ? "" : ", ") + kind + " " + std::to_string(n);
  std::string alarmed;
  for (const char* kind : kSpecialKinds) {
    int events = 0, with_false_alarms = 0;
    for (const RecordOutcome& o : r.records)
      if (o.record.kind == kind) ++events, with_false_alarms += !o.false_alarm_ids.empty();
    alarmed += (alarmed.empty() ? "" : ", ") + std::string(kind) + " " + std::to_string(with_false_alarms) +
               "/" + std::to_string(events);
  }
  out += render_columns({
      {"incidents", std::to_string(r.incidents)},
      {"detected", std::to_string(r.detected) + " (recall " + format_number(r.recall, 3) + ")"},
      {"raised alarms", std::to_string(r.alarms)},
      {"false alarms", std::to_string(r.false_alarms) + " (" + by_kind + ")"},
      {"alarms per incident",
       format_number(r.alarms_per_incident_median, 1) + " (median over detected incidents)"},
      {"detection delay", format_number(r.delay_steps_median, 1) + " steps (median over detected incidents)"},
      {"special events with false alarms", alarmed},
  });

  std::vector<std::vector<std::string>> incidents = {{"incident", "detected", "delay", "alarms", "scope"}};
  std::vector<std::vector<std::string>> specials = {
      {"special event", "kind", "start", "false alarms", "scope"}};
  for (const RecordOutcome& o : r.records) {
    if (is_incident(o.record))
      incidents.push_back({o.record.name, o.alarm_ids.empty() ? "no" : "yes", format_number(o.delay_steps, 1),
                           join_ids(o.alarm_ids, 6), scope_text(o.record.scope)});
    else
      specials.push_back({o.record.name, o.record.kind, format_iso(o.record.start),
                          join_ids(o.false_alarm_ids, 6), scope_text(o.record.scope)});
  }
  if (incidents.size() > 1) out += "\n" + render_columns(incidents);
  if (specials.size() > 1) out += "\n" + render_columns(specials);

  if (r.has_ledger) {
    std::vector<std::vector<std::string>> rows = {{"record", "kind", "start", "ledger decisions"}};
    for (const RecordOutcome& o : r.records)
      if (!is_incident(o.record) || o.alarm_ids.empty())
        rows.push_back(
            {o.record.name, o.record.kind, format_iso(o.record.start), reasons_text(o.ledger_reasons)});
    out +=
        "\nledger decisions on the candidate episodes overlapping each special event and missed incident\n" +
        render_columns(rows);
  }
  return out;
}

std::string eval_json(const EvalResult& r) {
  ordered_json o;
  o["incidents"] = r.incidents;
  o["detected"] = r.detected;
  o["recall"] = number_or_null(r.recall);
  o["alarms"] = r.alarms;
  o["false_alarms"] = r.false_alarms;
  o["false_alarms_by_kind"] = ordered_json::object();
  for (const auto& [kind, n] : r.false_alarms_by_kind) o["false_alarms_by_kind"][kind] = n;
  o["alarms_per_incident_median"] = number_or_null(r.alarms_per_incident_median);
  o["delay_steps_median"] = number_or_null(r.delay_steps_median);
  // Per kind of special event: how many there are, how many any raised alarm fell on, and how
  // many a false alarm (one matching no incident) fell on.
  o["special_events_alarmed"] = ordered_json::object();
  for (const char* kind : kSpecialKinds) {
    int events = 0, alarmed = 0, falsely = 0;
    for (const RecordOutcome& rec : r.records)
      if (rec.record.kind == kind)
        ++events, alarmed += !rec.alarm_ids.empty(), falsely += !rec.false_alarm_ids.empty();
    o["special_events_alarmed"][kind] = {
        {"events", events}, {"alarmed", alarmed}, {"with_false_alarms", falsely}};
  }
  ordered_json incidents = ordered_json::array(), specials = ordered_json::array(),
               ledger = ordered_json::array();
  for (const RecordOutcome& rec : r.records) {
    ordered_json item;
    item["name"] = rec.record.name;
    item["kind"] = rec.record.kind;
    item["scope"] = rec.record.scope;
    item["start"] = format_iso(rec.record.start);
    item["end"] = format_iso(rec.record.end);
    if (is_incident(rec.record)) {
      item["detected"] = !rec.alarm_ids.empty();
      item["delay_steps"] = number_or_null(rec.delay_steps);
    }
    item["alarms"] = rec.alarm_ids;
    if (!is_incident(rec.record)) item["false_alarms"] = rec.false_alarm_ids;
    if (r.has_ledger && (!is_incident(rec.record) || rec.alarm_ids.empty())) {
      ordered_json entry = {{"name", rec.record.name}, {"kind", rec.record.kind}, {"start", item["start"]}};
      entry["reasons"] = ordered_json::object();
      for (const auto& [reason, n] : rec.ledger_reasons) entry["reasons"][reason] = n;
      ledger.push_back(std::move(entry));
    }
    (is_incident(rec.record) ? incidents : specials).push_back(std::move(item));
  }
  o["per_incident"] = std::move(incidents);
  o["special_events"] = std::move(specials);
  if (r.has_ledger) o["ledger"] = std::move(ledger);
  return o.dump();
}

}  // namespace vigil
