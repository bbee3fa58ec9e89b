#include "vigil/events.hpp"

#include <algorithm>
#include <charconv>

#include "core/text_checks.hpp"
#include "ingest/csv_text.hpp"
#include "vigil/error.hpp"
#include "vigil/limits.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

// The schedule is written by hand, so blanks around fields and scope terms are forgiven.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::vector<std::string> kColumns = {"event", "start", "end", "scope", "expected_impact"};
enum Column { kEvent, kStart, kEnd, kScope, kImpact };

}  // namespace

bool Scope::matches(const Keys& keys, size_t series) const {
  for (const Term& term : terms) {
    const int dim = keys.dim_index(term.dim);
    if (dim < 0) return false;
    const std::string& value = keys.value(series, static_cast<size_t>(dim));
    if (std::find(term.values.begin(), term.values.end(), value) == term.values.end()) return false;
  }
  return true;
}

std::string Scope::text() const {
  if (terms.empty()) return "*";
  std::string text;
  for (const Term& term : terms)
    for (const std::string& value : term.values) {
      if (!text.empty()) text += ';';
      text += term.dim + "=" + value;
    }
  return text;
}

Scope parse_scope(const std::string& text, const std::string& file, long long line) {
  auto bad = [&](const std::string& problem) { throw InputError(where(file, line, problem)); };
  const std::string_view all = trim(text);
  if (all.empty()) bad("scope is empty; use * for every series");
  check_text(file, line, "scope", all, limits::kMaxDims * (limits::kMaxNameBytes + limits::kMaxValueBytes + 2) * 4);
  Scope scope;
  if (all == "*") return scope;
  for (size_t pos = 0;;) {
    const size_t semicolon = std::min(all.find(';', pos), all.size());
    const std::string_view term = trim(all.substr(pos, semicolon - pos));
    if (term.empty()) bad("scope " + in_quotes(text) + " has an empty term");
    if (term == "*") bad("scope " + in_quotes(text) + ": '*' cannot be combined with other terms");
    const size_t equals = term.find('=');
    if (equals == std::string_view::npos) bad("scope term " + in_quotes(term) + " is not dim=value");
    const std::string dim(trim(term.substr(0, equals)));
    const std::string value(trim(term.substr(equals + 1)));
    if (dim.empty()) bad("scope term " + in_quotes(term) + " has no dimension before '='");
    if (value.empty()) bad("scope term " + in_quotes(term) + " has no value after '='");
    check_text(file, line, "scope dimension", dim, limits::kMaxNameBytes);
    check_text(file, line, "scope value", value, limits::kMaxValueBytes);
    auto it = std::find_if(scope.terms.begin(), scope.terms.end(),
                           [&](const Scope::Term& t) { return t.dim == dim; });
    if (it == scope.terms.end()) {
      if (scope.terms.size() == limits::kMaxDims)
        bad("scope names more than " + std::to_string(limits::kMaxDims) + " dimensions");
      it = scope.terms.insert(scope.terms.end(), Scope::Term{dim, {}});
    }
    it->values.push_back(value);  // duplicates go below, after sorting (linear, not quadratic)
    if (semicolon == all.size()) break;
    pos = semicolon + 1;
  }
  // Canonical order, so equal scopes print alike whatever order the schedule used.
  std::sort(scope.terms.begin(), scope.terms.end(),
            [](const Scope::Term& a, const Scope::Term& b) { return a.dim < b.dim; });
  for (Scope::Term& term : scope.terms) {
    std::sort(term.values.begin(), term.values.end());
    term.values.erase(std::unique(term.values.begin(), term.values.end()), term.values.end());
  }
  return scope;
}

EventSchedule parse_events(std::string_view text, const std::string& path) {
  csv::Lines lines(csv::strip_bom(text));
  const std::string expected = "the header must be event,start,end,scope,expected_impact";
  std::string_view line;
  long long number = 0;
  bool has_header = false;
  while (lines.next(line, number))
    if (!line.empty()) {
      has_header = true;
      break;
    }
  if (!has_header) throw InputError(where(path, 0, "empty file; " + expected));

  std::vector<std::string_view> fields;
  std::string scratch;
  if (const char* problem = csv::split(line, fields, scratch)) throw InputError(where(path, number, problem));
  std::vector<int> column_of(kColumns.size(), -1);
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string name(trim(fields[i]));
    const auto known = std::find(kColumns.begin(), kColumns.end(), name);
    if (known == kColumns.end())
      throw InputError(where(path, number, "unknown column " + in_quotes(name) + "; " + expected));
    int& slot = column_of[static_cast<size_t>(known - kColumns.begin())];
    if (slot >= 0) throw InputError(where(path, number, "column '" + name + "' appears twice"));
    slot = static_cast<int>(i);
  }
  for (size_t c = 0; c < kColumns.size(); ++c)
    if (column_of[c] < 0)
      throw InputError(where(path, number, "missing column '" + kColumns[c] + "'; " + expected));

  EventSchedule schedule;
  schedule.source = path;
  while (lines.next(line, number)) {
    if (line.empty()) continue;
    auto bad = [&](const std::string& problem) { throw InputError(where(path, number, problem)); };
    if (const char* problem = csv::split(line, fields, scratch)) bad(problem);
    if (fields.size() != kColumns.size())
      bad("expected " + std::to_string(kColumns.size()) + " fields, found " + std::to_string(fields.size()));
    auto field = [&](Column c) { return trim(fields[static_cast<size_t>(column_of[c])]); };

    Event event;
    event.line = number;
    event.name = std::string(field(kEvent));
    if (event.name.empty()) bad("event name is empty");
    check_text(path, number, "event name", event.name, limits::kMaxNameBytes);
    const std::optional<int64_t> start = parse_timestamp(field(kStart));
    if (!start) bad("start " + in_quotes(field(kStart)) + " is not ISO-8601 or unix seconds");
    const std::optional<int64_t> end = parse_timestamp(field(kEnd));
    if (!end) bad("end " + in_quotes(field(kEnd)) + " is not ISO-8601 or unix seconds");
    if (*end <= *start) bad("end " + format_iso(*end) + " is not after start " + format_iso(*start));
    event.start = *start;
    event.end = *end;
    event.scope = parse_scope(std::string(field(kScope)), path, number);

    const std::string_view impact = field(kImpact);
    if (!impact.empty()) {
      double value = 0;
      const auto [ptr, ec] = std::from_chars(impact.data(), impact.data() + impact.size(), value);
      if (ec != std::errc() || ptr != impact.data() + impact.size() || !std::isfinite(value))
        bad("expected_impact " + in_quotes(impact) +
            " is not a number (a relative change such as -0.35, or empty to learn it from history)");
      if (value < -1)
        bad("expected_impact " + std::string(impact) + " is below -1 (a drop of more than 100 %)");
      event.expected_impact = static_cast<float>(value);
    }
    schedule.events.push_back(std::move(event));
  }
  return schedule;
}

EventSchedule read_events(const std::string& path) {
  const csv::FileBytes file(path);
  return parse_events(file.view(), path);
}

size_t validate_events(const EventSchedule& schedule, const Dataset& data) {
  const int64_t data_end = data.time_at(data.T);  // one step past the last point
  size_t unused = 0;
  for (const Event& event : schedule.events) {
    for (const Scope::Term& term : event.scope.terms) {
      const int dim = data.keys.dim_index(term.dim);
      if (dim < 0)
        throw InputError(where(schedule.source, event.line,
                               "scope names dimension '" + term.dim + "', which the data lacks (" +
                                   (data.keys.dims.empty() ? std::string("it has no dimension columns")
                                                           : "dimensions: " + csv::join(data.keys.dims)) +
                                   ")"));
      for (const std::string& value : term.values)
        if (data.keys.find_code(static_cast<size_t>(dim), value) < 0)
          throw InputError(where(schedule.source, event.line,
                                 "scope names " + term.dim + "=" + value + ", which the data lacks"));
    }
    if (event.end <= data.start || event.start >= data_end) ++unused;
  }
  return unused;
}

}  // namespace vigil
