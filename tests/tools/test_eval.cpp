// `vigil eval`: matching of raised alarms to truth records (one step of slack, scopes), the
// counts and medians it reports, the ledger summary, and its input validation.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/test_util.hpp"
#include "vigil/error.hpp"
#include "vigil/tools/scenario.hpp"

namespace vigil {
namespace {

using test::run_vigil;
using test::TempDir;
using test::write_file;
using Series = std::map<std::string, std::string>;

TruthRecord record(const std::string& kind, const std::string& name,
                   std::map<std::string, std::vector<std::string>> scope, int64_t start, int64_t end) {
  TruthRecord r;
  r.kind = kind;
  r.name = name;
  r.scope = std::move(scope);
  r.start = start;
  r.end = end;
  return r;
}

AlarmRecord alarm(const std::string& id, int64_t start, int64_t end, std::vector<Series> series,
                  const std::string& status = "raised", int64_t step_seconds = 0) {
  AlarmRecord a;
  a.id = id;
  a.status = status;
  a.reason = status == "raised" ? "malfunction" : "anticipated_event";
  a.start = start;
  a.end = end;
  a.series = std::move(series);
  a.step_seconds = step_seconds;
  return a;
}

const Series kUkWeb = {{"region", "uk"}, {"stack", "web"}};

const RecordOutcome& outcome(const EvalResult& r, const std::string& name) {
  for (const RecordOutcome& o : r.records)
    if (o.record.name == name) return o;
  throw std::runtime_error("no record " + name);
}

TEST(Eval, OneStepOfSlackOnEachSideJustInsideAndJustOutside) {
  // Incident [1000, 2000), step 100: an alarm matches when start <= 2100 and end >= 900.
  const std::vector<TruthRecord> truth = {record("incident", "inc", {{"region", {"uk"}}}, 1000, 2000)};
  const std::vector<AlarmRecord> alarms = {
      alarm("ends_one_step_before", 500, 900, {kUkWeb}),     // end == start - step: inside
      alarm("ends_just_too_early", 500, 899, {kUkWeb}),      // one second short
      alarm("starts_one_step_after", 2100, 2500, {kUkWeb}),  // start == end + step: inside
      alarm("starts_just_too_late", 2101, 2500, {kUkWeb}),   // one second late
  };
  const EvalResult r = evaluate(truth, alarms, 100);
  EXPECT_EQ(outcome(r, "inc").alarm_ids,
            (std::vector<std::string>{"ends_one_step_before", "starts_one_step_after"}));
  EXPECT_EQ(r.alarms, 4);
  EXPECT_EQ(r.false_alarms, 2);
  EXPECT_EQ(r.false_alarms_by_kind.at("none"), 2);
  EXPECT_EQ(r.detected, 1);
  EXPECT_DOUBLE_EQ(r.recall, 1.0);
}

TEST(Eval, WithoutAStepIntervalsMustTouch) {
  // No --step and no evidence.step_seconds: no slack, but touching edges still overlap.
  const std::vector<TruthRecord> truth = {record("incident", "inc", {}, 1000, 2000)};
  const std::vector<AlarmRecord> alarms = {
      alarm("touches_start", 400, 1000, {kUkWeb}),
      alarm("touches_end", 2000, 2400, {kUkWeb}),
      alarm("one_second_before", 400, 999, {kUkWeb}),
      alarm("one_second_after", 2001, 2400, {kUkWeb}),
  };
  const EvalResult r = evaluate(truth, alarms, 0);
  EXPECT_EQ(outcome(r, "inc").alarm_ids, (std::vector<std::string>{"touches_start", "touches_end"}));
  EXPECT_EQ(r.false_alarms, 2);
  // Without a step there is no unit for the delay.
  EXPECT_TRUE(std::isnan(r.delay_steps_median));
}

TEST(Eval, SlackComesFromTheAlarmsEvidenceUnlessGiven) {
  const std::vector<TruthRecord> truth = {record("incident", "inc", {}, 1000, 2000)};
  // evidence.step_seconds = 300: an alarm ending at 700 (start - 300) matches.
  const std::vector<AlarmRecord> alarms = {alarm("a", 100, 700, {kUkWeb}, "raised", 300)};
  EXPECT_EQ(evaluate(truth, alarms, 0).detected, 1);
  // --step 100 overrides the evidence: 700 < 1000 - 100.
  EXPECT_EQ(evaluate(truth, alarms, 100).detected, 0);
}

TEST(Eval, ScopesAreOrWithinADimensionAndAndAcrossDimensions) {
  const std::vector<TruthRecord> truth = {
      record("incident", "inc", {{"region", {"uk", "de"}}, {"stack", {"web"}}}, 1000, 2000)};
  const auto match = [&](std::vector<Series> series) {
    return evaluate(truth, {alarm("a", 1000, 1500, std::move(series))}, 300).detected == 1;
  };
  EXPECT_TRUE(match({{{"region", "de"}, {"stack", "web"}, {"device", "roku"}}}));
  EXPECT_TRUE(match({{{"region", "uk"}, {"stack", "web"}}}));
  EXPECT_FALSE(match({{{"region", "fr"}, {"stack", "web"}}}));  // region not listed
  EXPECT_FALSE(match({{{"region", "uk"}, {"stack", "tv"}}}));   // stack not listed
  EXPECT_FALSE(match({{{"region", "uk"}}}));                    // lacks the stack dimension
  // One member series inside the scope is enough.
  EXPECT_TRUE(match({{{"region", "fr"}, {"stack", "web"}}, {{"region", "de"}, {"stack", "web"}}}));
  // {} covers every series.
  const std::vector<TruthRecord> everything = {record("incident", "all", {}, 1000, 2000)};
  EXPECT_EQ(evaluate(everything, {alarm("a", 1000, 1500, {{{"metric", "x"}}})}, 300).detected, 1);
}

TEST(Eval, AnAlarmMatchingTwoIncidentsCountsForBoth) {
  const std::vector<TruthRecord> truth = {
      record("incident", "web_uk", {{"region", {"uk"}}, {"stack", {"web"}}}, 1000, 2000),
      record("incident", "roku", {{"device", {"roku"}}}, 1500, 2500),
  };
  const std::vector<AlarmRecord> alarms = {alarm("both", 1600, 1900,
                                                 {{{"region", "uk"}, {"stack", "web"}, {"device", "ios"}},
                                                  {{"region", "de"}, {"stack", "tv"}, {"device", "roku"}}})};
  const EvalResult r = evaluate(truth, alarms, 300);
  EXPECT_EQ(r.incidents, 2);
  EXPECT_EQ(r.detected, 2);
  EXPECT_EQ(r.false_alarms, 0);
  EXPECT_DOUBLE_EQ(r.alarms_per_incident_median, 1.0);
  EXPECT_EQ(outcome(r, "web_uk").alarm_ids, std::vector<std::string>{"both"});
  EXPECT_EQ(outcome(r, "roku").alarm_ids, std::vector<std::string>{"both"});
}

TEST(Eval, FalseAlarmsAreCountedByTheKindOfTheFirstEventTheyFallOn) {
  const std::vector<TruthRecord> truth = {
      record("incident", "inc", {{"region", {"uk"}}}, 1000, 2000),
      record("anticipated", "final", {{"region", {"br", "de"}}}, 5000, 6000),
      record("external_low", "sun", {{"region", {"de"}}}, 1000, 9000),
      record("external_high", "cut", {{"region", {"fr"}}}, 8000, 9000),
  };
  const Series de = {{"region", "de"}, {"stack", "web"}};
  const std::vector<AlarmRecord> alarms = {
      alarm("on_final_and_sun", 5100, 5200, {de}),  // the final comes first in the file
      alarm("on_sun", 7000, 7100, {de}),
      alarm("on_cut", 8000, 8100, {{{"region", "fr"}}}),
      alarm("on_nothing", 20000, 20100, {de}),
      alarm("on_incident_and_sun", 1000, 1100, {{{"region", "uk"}}, de}),  // a detection, not false
  };
  const EvalResult r = evaluate(truth, alarms, 60);
  EXPECT_EQ(r.alarms, 5);
  EXPECT_EQ(r.false_alarms, 4);
  EXPECT_EQ(r.false_alarms_by_kind.at("anticipated"), 1);
  EXPECT_EQ(r.false_alarms_by_kind.at("external_low"), 1);
  EXPECT_EQ(r.false_alarms_by_kind.at("external_high"), 1);
  EXPECT_EQ(r.false_alarms_by_kind.at("none"), 1);
  EXPECT_EQ(outcome(r, "final").alarm_ids, std::vector<std::string>{"on_final_and_sun"});
  EXPECT_EQ(outcome(r, "sun").alarm_ids,
            (std::vector<std::string>{"on_final_and_sun", "on_sun", "on_incident_and_sun"}));
  // An alarm detecting the incident inside the fine weather is no false alarm on the weather.
  EXPECT_EQ(outcome(r, "sun").false_alarm_ids, (std::vector<std::string>{"on_final_and_sun", "on_sun"}));
  EXPECT_EQ(r.detected, 1);
}

TEST(Eval, SuppressedLinesAreIgnored) {
  const std::vector<TruthRecord> truth = {record("incident", "inc", {}, 1000, 2000),
                                          record("anticipated", "final", {}, 5000, 6000)};
  const std::vector<AlarmRecord> alarms = {alarm("s1", 1000, 1100, {kUkWeb}, "suppressed"),
                                           alarm("s2", 5000, 5100, {kUkWeb}, "suppressed")};
  const EvalResult r = evaluate(truth, alarms, 300);
  EXPECT_EQ(r.alarms, 0);
  EXPECT_EQ(r.detected, 0);
  EXPECT_EQ(r.false_alarms, 0);
  EXPECT_DOUBLE_EQ(r.recall, 0.0);
  EXPECT_TRUE(std::isnan(r.alarms_per_incident_median));
  EXPECT_TRUE(outcome(r, "final").alarm_ids.empty());
}

TEST(Eval, MediansOfAlarmsPerIncidentAndDelay) {
  const int64_t step = 300;
  const std::vector<TruthRecord> truth = {
      record("incident", "one", {{"region", {"a"}}}, 10000, 20000),
      record("incident", "two", {{"region", {"b"}}}, 10000, 20000),
      record("incident", "four", {{"region", {"c"}}}, 10000, 20000),
      record("incident", "missed", {{"region", {"d"}}}, 10000, 20000),
  };
  const Series a = {{"region", "a"}}, b = {{"region", "b"}}, c = {{"region", "c"}};
  const std::vector<AlarmRecord> alarms = {
      // "one": a single alarm 3 steps late.
      alarm("a1", 10000 + 3 * step, 15000, {a}),
      // "two": the earliest of two alarms starts 200 s before the incident: delay 0, not < 0.
      alarm("b1", 12000, 13000, {b}),
      alarm("b2", 10000 - 200, 11000, {b}),
      // "four": the earliest starts 1650 s late: 5.5 steps.
      alarm("c1", 10000 + 1650, 12000, {c}),
      alarm("c2", 13000, 14000, {c}),
      alarm("c3", 15000, 16000, {c}),
      alarm("c4", 17000, 18000, {c}),
  };
  const EvalResult r = evaluate(truth, alarms, step);
  EXPECT_EQ(r.incidents, 4);
  EXPECT_EQ(r.detected, 3);
  EXPECT_DOUBLE_EQ(r.recall, 0.75);
  EXPECT_DOUBLE_EQ(outcome(r, "one").delay_steps, 3.0);
  EXPECT_DOUBLE_EQ(outcome(r, "two").delay_steps, 0.0);
  EXPECT_DOUBLE_EQ(outcome(r, "four").delay_steps, 5.5);
  EXPECT_TRUE(std::isnan(outcome(r, "missed").delay_steps));
  // Alarms per detected incident {1, 2, 4}: median 2. Delays {3, 0, 5.5}: median 3.
  EXPECT_DOUBLE_EQ(r.alarms_per_incident_median, 2.0);
  EXPECT_DOUBLE_EQ(r.delay_steps_median, 3.0);

  // An even count averages the middle two: alarms {1, 2} -> 1.5, delays {3, 0} -> 1.5.
  const std::vector<AlarmRecord> fewer(alarms.begin(), alarms.begin() + 3);
  const EvalResult even = evaluate(truth, fewer, step);
  EXPECT_EQ(even.detected, 2);
  EXPECT_DOUBLE_EQ(even.alarms_per_incident_median, 1.5);
  EXPECT_DOUBLE_EQ(even.delay_steps_median, 1.5);
}

TEST(Eval, LedgerDecisionsAreCountedForSpecialEventsAndMissedIncidents) {
  const std::vector<TruthRecord> truth = {
      record("anticipated", "final", {{"region", {"br"}}}, 1000, 2000),
      record("incident", "missed", {{"device", {"roku"}}}, 5000, 6000),
  };
  std::vector<AlarmRecord> ledger = {
      alarm("l1", 1000, 1500, {{{"region", "br"}, {"stack", "web"}}}, "suppressed"),
      alarm("l2", 1200, 1500, {{{"region", "br"}, {"stack", "mobile"}}}, "suppressed"),
      alarm("l3", 1200, 1500, {{{"region", "br"}, {"stack", "tv"}}}, "suppressed"),
      alarm("l4", 5000, 5500, {{{"device", "roku"}}}, "suppressed"),
      alarm("l5", 9000, 9500, {{{"device", "roku"}}}, "suppressed"),  // overlaps neither
  };
  ledger[2].reason = "external_event";
  ledger[3].reason = "gradual_shift";
  // A group notice without member series stands for its scope.
  AlarmRecord notice = alarm("n1", 1100, 1300, {}, "suppressed");
  notice.reason = "external_event";
  notice.scope = {{"region", "br"}};
  ledger.push_back(notice);
  AlarmRecord elsewhere = notice;
  elsewhere.scope = {{"region", "uk"}};
  ledger.push_back(elsewhere);

  const EvalResult r = evaluate(truth, {}, 300, &ledger);
  ASSERT_TRUE(r.has_ledger);
  EXPECT_EQ(outcome(r, "final").ledger_reasons,
            (std::map<std::string, int>{{"anticipated_event", 2}, {"external_event", 2}}));
  EXPECT_EQ(outcome(r, "missed").ledger_reasons, (std::map<std::string, int>{{"gradual_shift", 1}}));
  const std::string table = eval_table(r);
  EXPECT_NE(table.find("anticipated_event: 2, external_event: 2"), std::string::npos) << table;
  const nlohmann::json j = nlohmann::json::parse(eval_json(r));
  EXPECT_EQ(j["ledger"][0]["name"], "final");
  EXPECT_EQ(j["ledger"][0]["reasons"]["external_event"], 2);
  EXPECT_EQ(j["ledger"][1]["reasons"]["gradual_shift"], 1);
}

// ---- the command line, on files

const char* kTruth =
    R"({"kind":"incident","name":"web_uk","scope":{"region":["uk"],"stack":["web"]},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"})"
    "\n"
    R"({"kind":"anticipated","name":"final","scope":{"region":["br"]},"start":"2026-03-09T19:00:00Z","end":"2026-03-09T21:00:00Z"})"
    "\n\n"
    R"({"kind":"incident","name":"roku","scope":{"device":["roku"]},"start":"2026-03-10T10:00:00Z","end":"2026-03-10T11:00:00Z"})"
    "\n";

std::string alarm_line(const std::string& id, const std::string& status, const std::string& start,
                       const std::string& end, const std::string& series) {
  return R"({"id":")" + id + R"(","status":")" + status + R"(","reason":"malfunction","start":")" + start +
         R"(","end":")" + end + R"(","direction":"drop","severity":3.5,"peak_z":-9.1,"scope":{},"series":)" +
         series + R"(,"n_series":1,"evidence":{"step_seconds":300}})" + "\n";
}

TEST(EvalCli, PrintsTheTableAndOneJsonObject) {
  TempDir dir;
  write_file(dir.file("truth.jsonl"), kTruth);
  write_file(dir.file("alarms.jsonl"),
             alarm_line("a1", "raised", "2026-03-09T10:10:00Z", "2026-03-09T10:50:00Z",
                        R"([{"metric":"play_starts","stack":"web","device":"ios","region":"uk"}])") +
                 alarm_line("a2", "raised", "2026-03-09T19:30:00Z", "2026-03-09T20:00:00Z",
                            R"([{"metric":"play_starts","stack":"tv","device":"roku","region":"br"}])") +
                 alarm_line("a3", "suppressed", "2026-03-10T10:00:00Z", "2026-03-10T10:30:00Z",
                            R"([{"metric":"play_starts","stack":"tv","device":"roku","region":"de"}])"));
  const std::string args =
      "eval --truth " + dir.file("truth.jsonl") + " --alarms " + dir.file("alarms.jsonl");

  const auto table = run_vigil(args);
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("recall 0.500"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("anticipated 1"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("web_uk"), std::string::npos);

  const auto json = run_vigil(args + " --json");
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_EQ(test::count_lines(json.out), 1u);
  const nlohmann::json j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["incidents"], 2);
  EXPECT_EQ(j["detected"], 1);
  EXPECT_DOUBLE_EQ(j["recall"].get<double>(), 0.5);
  EXPECT_EQ(j["alarms"], 2);
  EXPECT_EQ(j["false_alarms"], 1);
  EXPECT_EQ(j["false_alarms_by_kind"]["anticipated"], 1);
  EXPECT_EQ(j["false_alarms_by_kind"]["none"], 0);
  EXPECT_DOUBLE_EQ(j["alarms_per_incident_median"].get<double>(), 1.0);
  // a1 starts 10 minutes into web_uk: 2 steps of 5 minutes.
  EXPECT_DOUBLE_EQ(j["delay_steps_median"].get<double>(), 2.0);
  EXPECT_EQ(j["per_incident"][0]["alarms"], nlohmann::json::array({"a1"}));
  EXPECT_EQ(j["per_incident"][1]["detected"], false);
  EXPECT_FALSE(j.contains("ledger"));

  // --step overrides the evidence: 10 minutes are 1 step of 10 minutes.
  const auto stepped = run_vigil(args + " --json --step 10m");
  ASSERT_EQ(stepped.code, 0) << stepped.err;
  EXPECT_DOUBLE_EQ(nlohmann::json::parse(stepped.out)["delay_steps_median"].get<double>(), 1.0);

  // The ledger (here the alarms file itself) adds its section.
  const auto ledger = run_vigil(args + " --json --ledger " + dir.file("alarms.jsonl"));
  ASSERT_EQ(ledger.code, 0) << ledger.err;
  const nlohmann::json l = nlohmann::json::parse(ledger.out)["ledger"];
  ASSERT_EQ(l.size(), 2u);  // the final, and the missed roku incident
  EXPECT_EQ(l[0]["name"], "final");
  EXPECT_EQ(l[0]["reasons"]["malfunction"], 1);
  EXPECT_EQ(l[1]["name"], "roku");
  EXPECT_EQ(l[1]["reasons"]["malfunction"], 1);
}

struct BadInput {
  const char* what;
  std::string truth, alarms;
  std::string expected;  // the start of the message after "vigil eval: "
};

TEST(EvalCli, BadLinesExitTwoNamingFileAndLine) {
  const std::string good_alarm = alarm_line("a", "raised", "2026-03-09T10:10:00Z", "2026-03-09T10:50:00Z",
                                            R"([{"region":"uk","stack":"web"}])");
  const std::string line1 = std::string(kTruth).substr(0, std::string(kTruth).find('\n') + 1);
  const std::vector<BadInput> cases = {
      {"truth not JSON", line1 + "{\"kind\": \n", good_alarm, "truth.jsonl:2: not valid JSON at column"},
      {"truth unknown kind",
       line1 +
           R"({"kind":"outage","name":"x","scope":{},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"})"
           "\n",
       good_alarm, "truth.jsonl:2: \"kind\" 'outage' is not one of"},
      {"truth end before start",
       R"({"kind":"incident","name":"x","scope":{},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T10:00:00Z"})"
       "\n",
       good_alarm, "truth.jsonl:1: \"end\" is not after \"start\""},
      {"truth scope of strings",
       R"({"kind":"incident","name":"x","scope":{"region":"uk"},"start":"2026-03-09T10:00:00Z","end":"2026-03-09T11:00:00Z"})"
       "\n",
       good_alarm, "truth.jsonl:1: \"scope\".region is not a non-empty array"},
      {"truth missing start",
       R"({"kind":"incident","name":"x","scope":{},"end":"2026-03-09T11:00:00Z"})"
       "\n",
       good_alarm, "truth.jsonl:1: missing \"start\""},
      {"truth bad time",
       R"({"kind":"incident","name":"x","scope":{},"start":"yesterday","end":"2026-03-09T11:00:00Z"})"
       "\n",
       good_alarm, "truth.jsonl:1: \"start\": cannot read 'yesterday'"},
      {"alarms not JSON", kTruth, good_alarm + "not json\n", "alarms.jsonl:2: not valid JSON at column"},
      {"alarms missing series", kTruth,
       good_alarm + good_alarm +
           R"({"id":"x","status":"raised","start":"2026-03-09T10:10:00Z","end":"2026-03-09T10:50:00Z"})"
           "\n",
       "alarms.jsonl:3: missing \"series\""},
      {"alarms missing status", kTruth,
       R"({"id":"x","start":"2026-03-09T10:10:00Z","end":"2026-03-09T10:50:00Z","series":[]})"
       "\n",
       "alarms.jsonl:1: missing \"status\""},
      {"alarms missing end", kTruth,
       R"({"id":"x","status":"raised","start":"2026-03-09T10:10:00Z","series":[]})"
       "\n",
       "alarms.jsonl:1: missing \"end\""},
      {"alarms series of strings", kTruth,
       R"({"id":"x","status":"raised","start":"2026-03-09T10:10:00Z","end":"2026-03-09T10:50:00Z","series":["uk"]})"
       "\n",
       "alarms.jsonl:1: an entry of \"series\" is not an object"},
  };
  for (const BadInput& c : cases) {
    TempDir dir;
    write_file(dir.file("truth.jsonl"), c.truth);
    write_file(dir.file("alarms.jsonl"), c.alarms);
    const auto r =
        run_vigil("eval --truth " + dir.file("truth.jsonl") + " --alarms " + dir.file("alarms.jsonl"));
    EXPECT_EQ(r.code, 2) << c.what;
    EXPECT_EQ(test::count_lines(r.err), 1u) << c.what << ": " << r.err;
    EXPECT_NE(r.err.find(c.expected), std::string::npos) << c.what << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.what;
  }
}

TEST(EvalCli, BadUsageExitsTwo) {
  TempDir dir;
  write_file(dir.file("truth.jsonl"), kTruth);
  const auto no_alarms = run_vigil("eval --truth " + dir.file("truth.jsonl"));
  EXPECT_EQ(no_alarms.code, 2);
  EXPECT_NE(no_alarms.err.find("--alarms is required"), std::string::npos) << no_alarms.err;
  const auto missing =
      run_vigil("eval --truth " + dir.file("truth.jsonl") + " --alarms " + dir.file("nope.jsonl"));
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("nope.jsonl: cannot read"), std::string::npos) << missing.err;
  write_file(dir.file("alarms.jsonl"), "");
  const auto bad_step = run_vigil("eval --truth " + dir.file("truth.jsonl") + " --alarms " +
                                  dir.file("alarms.jsonl") + " --step soon");
  EXPECT_EQ(bad_step.code, 2);
  EXPECT_NE(bad_step.err.find("--step"), std::string::npos) << bad_step.err;
}

TEST(Eval, TruthRoundTripsThroughItsJsonLine) {
  TruthRecord r =
      record("incident", "incident_01", {{"device", {"roku", "firetv"}}, {"metric", {"play_starts"}}},
             1772409600, 1772413200);
  r.onset = "gradual";
  r.factor = {{"play_starts", 0.4}};
  TempDir dir;
  write_file(dir.file("truth.jsonl"), truth_json(r) + "\n");
  const std::vector<TruthRecord> back = read_truth(dir.file("truth.jsonl"));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].kind, r.kind);
  EXPECT_EQ(back[0].name, r.name);
  EXPECT_EQ(back[0].scope, r.scope);
  EXPECT_EQ(back[0].start, r.start);
  EXPECT_EQ(back[0].end, r.end);
  EXPECT_EQ(back[0].onset, "gradual");
  EXPECT_EQ(back[0].factor, r.factor);
  EXPECT_NE(truth_json(r).find("\"start\":\"2026-03-02T00:00:00Z\""), std::string::npos);
}

}  // namespace
}  // namespace vigil
