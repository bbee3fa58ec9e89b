#pragma once
// The event schedule CSV: `event,start,end,scope,expected_impact`.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "vigil/dataset.hpp"

namespace vigil {

// `*` or `dim=value` terms joined by `;`: terms on one dimension OR-ed, dimensions AND-ed.
struct Scope {
  struct Term {
    std::string dim;
    std::vector<std::string> values;  // OR-ed
  };
  std::vector<Term> terms;  // AND-ed; empty = every series
  bool matches(const Keys& keys, size_t series) const;
  std::string text() const;  // canonical form, `*` when empty
};

// Parses the scope grammar; throws InputError("file:line: ...") when malformed.
Scope parse_scope(const std::string& text, const std::string& file, long long line);

struct Event {
  std::string name;
  int64_t start = 0, end = 0;  // unix seconds, end > start
  Scope scope;
  float expected_impact = NAN;  // relative change (-0.35 = 35 % drop); NaN = learn from history
  long long line = 0;           // line in the schedule file, for messages
};

struct EventSchedule {
  std::string source;
  std::vector<Event> events;
};

// Parses and validates the schedule (header, timestamps, end > start, scope grammar, impact).
EventSchedule read_events(const std::string& path);
// The same for schedule text already in memory (a generated scenario's); `source` names it in
// messages.
EventSchedule parse_events(std::string_view text, const std::string& source);
// Checks every scope against the data's dimensions and values; throws InputError naming the
// schedule line on an unknown dimension or value. Returns the number of events that fall
// outside the data's time range (accepted, reported as unused).
size_t validate_events(const EventSchedule& schedule, const Dataset& data);

}  // namespace vigil
