// Alarms -> Alertmanager: the alerts vigil builds (labels, annotations), and the push against a
// real Alertmanager with a webhook receiver run by the test: grouping, inhibition of a lower
// severity by a critical alarm in the same scope, re-run dedup, resolution, a severity change,
// amtool; and the failures (down, 5xx, 400) through `vigil score`.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "common/servers.hpp"
#include "common/test_util.hpp"
#include "vigil/alertmanager.hpp"
#include "vigil/error.hpp"
#include "vigil/timeutil.hpp"

namespace vigil {
namespace {

using nlohmann::json;

// 4 series: metric {plays} x device {roku, tv} x region {br, us}, keys only (no values needed).
Dataset keys_only(std::vector<std::string> dims = {"metric", "device", "region"}) {
  Dataset d;
  d.keys.dims = dims;
  d.start = *parse_timestamp("2026-03-01T00:00:00Z");
  d.step = 300;
  d.T = 100;
  for (const char* device : {"roku", "tv"})
    for (const char* region : {"br", "us"}) {
      d.keys.codes.push_back(d.keys.intern(0, "plays"));
      d.keys.codes.push_back(d.keys.intern(1, device));
      d.keys.codes.push_back(d.keys.intern(2, region));
    }
  return d;
}

Alarm alarm(const Dataset& d, std::vector<std::pair<std::string, std::string>> scope, const std::string& severity,
            Direction direction, uint32_t first, uint32_t last) {
  Alarm a;
  for (const auto& [dim, value] : scope) {
    const size_t k = static_cast<size_t>(d.keys.dim_index(dim));
    a.scope.emplace_back(k, static_cast<uint32_t>(d.keys.find_code(k, value)));
  }
  for (uint32_t s = 0; s < d.N(); ++s) {
    bool in = true;
    for (const auto& [k, c] : a.scope) in = in && d.keys.code(s, k) == c;
    if (in) a.series.push_back(s);
  }
  a.severity = severity;
  a.direction = direction;
  a.first = first;
  a.last = last;
  a.impact = direction == Direction::Drop ? -0.45f : 0.6f;
  a.peak_z = direction == Direction::Drop ? -9.5f : 8.25f;
  (direction == Direction::Drop ? a.drops : a.spikes) = a.series.size();
  return a;
}

TEST(AlertmanagerAlerts, LabelsAreLegalStableAndCarryTheScopeSeverityAndDirection) {
  Dataset d = keys_only({"metric", "device-type", "2nd", "severity"});
  // The weird dimension names need their own codes.
  d.keys.codes.clear();
  for (const char* device : {"roku", "tv"})
    for (const char* region : {"br", "us"}) {
      d.keys.codes.push_back(d.keys.intern(0, "plays"));
      d.keys.codes.push_back(d.keys.intern(1, device));
      d.keys.codes.push_back(d.keys.intern(2, region));
      d.keys.codes.push_back(d.keys.intern(3, "x"));
    }
  Config config;
  config.alertmanager.alertname = "PlaysAnomaly";
  config.alertmanager.runbook_url = "https://runbooks.example/{alertname}/{device-type}?sev={severity}&r={2nd}";
  const std::vector<Alarm> alarms = {
      alarm(d, {{"device-type", "roku"}, {"severity", "x"}}, "critical", Direction::Drop, 10, 99),
      alarm(d, {{"device-type", "tv"}, {"2nd", "br"}}, "major", Direction::Spike, 10, 40),
      alarm(d, {}, "minor", Direction::Drop, 50, 60)};
  const auto alerts = alertmanager_alerts(d, alarms, config);
  ASSERT_EQ(alerts.size(), 3u);
  const std::regex legal("[a-zA-Z_][a-zA-Z0-9_]*");
  for (const auto& a : alerts)
    for (const auto& [name, value] : a.labels) EXPECT_TRUE(std::regex_match(name, legal)) << name;
  EXPECT_EQ(alerts[0].labels, (std::map<std::string, std::string>{{"alertname", "PlaysAnomaly"},
                                                                   {"severity", "critical"},
                                                                   {"direction", "drop"},
                                                                   {"device_type", "roku"},
                                                                   {"dim_severity", "x"}}));
  EXPECT_EQ(alerts[1].labels, (std::map<std::string, std::string>{{"alertname", "PlaysAnomaly"},
                                                                   {"severity", "warning"},
                                                                   {"direction", "spike"},
                                                                   {"device_type", "tv"},
                                                                   {"dim_2nd", "br"}}));
  EXPECT_EQ(alerts[2].labels.at("severity"), "info");
  EXPECT_EQ(alerts[2].labels.size(), 3u);  // the whole-data scope: no dimension labels
  EXPECT_TRUE(alerts[0].open);
  EXPECT_FALSE(alerts[1].open);
  EXPECT_EQ(alerts[0].severity_rank, 0);
  EXPECT_EQ(alerts[1].annotations.at("vigil_severity"), "major");
  EXPECT_EQ(alerts[1].annotations.at("runbook_url"), "https://runbooks.example/PlaysAnomaly/tv?sev=warning&r=br");
  EXPECT_EQ(alerts[0].annotations.at("summary"),
            "drop -45% on device-type=roku,severity=x (2 series) since 2026-03-01T00:50:00Z");
  EXPECT_EQ(alerts[1].ended_at, d.time_at(40) + d.step);
  const json evidence = json::parse(alerts[1].annotations.at("evidence"));
  EXPECT_EQ(evidence.at("n_series"), 1);
  EXPECT_EQ(evidence.at("open"), false);
  EXPECT_EQ(evidence.at("peak_z"), 8.25);
  // Stable: the same alarms give the same labels, whatever else differs (no time, no id).
  Alarm later = alarms[0];
  later.first = 20;
  later.peak_z = -20;
  EXPECT_EQ(alertmanager_alerts(d, {later}, config)[0].labels, alerts[0].labels);
}

// A running Alertmanager whose one route sends to a webhook the test runs.
class LiveAlertmanager {
 public:
  LiveAlertmanager()
      : hook_([](test::HttpExchange& ex) { ex.reply = ""; }) {
    binary_ = test::find_program("prometheus-alertmanager");
    if (binary_.empty()) binary_ = test::find_program("alertmanager");
    if (binary_.empty()) return;
    port_ = test::free_port();
    test::write_file(dir_.file("alertmanager.yml"), R"(route:
  receiver: hook
  group_by: ['alertname', 'device']
  group_wait: 3s  # long enough that both POSTs of a push (critical first) land in one flush on a loaded machine
  group_interval: 1s
  repeat_interval: 4h
receivers:
  - name: hook
    webhook_configs:
      - url: )" + hook_.url() + R"(/hook
        send_resolved: true
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"warning|info"']
    equal: ['alertname', 'device', 'direction']
)");
    server_ = std::make_unique<test::ServerProcess>(
        std::vector<std::string>{binary_, "--config.file=" + dir_.file("alertmanager.yml"),
                                 "--storage.path=" + dir_.file("data"),
                                 "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                 "--cluster.listen-address="},
        dir_.file("alertmanager.log"));
    ready_ = test::wait_until_ready(url() + "/-/ready", 30);
  }
  bool available() const { return !binary_.empty(); }
  bool ready() const { return ready_; }
  std::string log() const { return test::read_file(dir_.file("alertmanager.log")); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The webhook notifications received so far (Alertmanager's JSON payloads).
  std::vector<json> notifications() const {
    std::vector<json> out;
    for (const auto& ex : hook_.exchanges()) out.push_back(json::parse(ex.body));
    return out;
  }
  // Waits until at least `n` notifications came (or 20 s).
  std::vector<json> wait_for(size_t n) const {
    for (int i = 0; i < 200 && notifications().size() < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return notifications();
  }
  json alerts() const {
    http::Request r;
    r.url = url() + "/api/v2/alerts";
    return json::parse(http::perform(r).body);
  }
  const test::TempDir& dir() const { return dir_; }

 private:
  test::TempDir dir_;
  test::HttpStub hook_;
  std::string binary_;
  int port_ = 0;
  bool ready_ = false;
  std::unique_ptr<test::ServerProcess> server_;
};

std::set<std::string> alert_keys(const json& alerts, const char* status_filter = nullptr) {
  std::set<std::string> keys;
  for (const json& a : alerts) {
    if (status_filter && a.value("status", "") != status_filter) continue;
    const json& l = a.at("labels");
    keys.insert(l.value("device", "") + "/" + l.value("region", "") + "/" + l.value("severity", "") + "/" +
                l.value("direction", ""));
  }
  return keys;
}

TEST(AlertmanagerLive, GroupsInhibitsDeduplicatesAndResolves) {
  LiveAlertmanager am;
  if (!am.available()) GTEST_SKIP() << "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)";
  ASSERT_TRUE(am.ready()) << am.log();
  const Dataset d = keys_only();
  Config config;
  config.alertmanager.recent_minutes = 10;
  PushOptions push;
  push.url = am.url();
  push.retries = 0;
  std::vector<Alarm> alarms = {
      alarm(d, {{"device", "roku"}}, "critical", Direction::Drop, 50, 99),                  // A
      alarm(d, {{"device", "roku"}, {"region", "br"}}, "major", Direction::Drop, 60, 99),  // B: inhibited by A
      alarm(d, {{"device", "tv"}, {"region", "us"}}, "major", Direction::Drop, 70, 99),    // C
      alarm(d, {{"device", "tv"}, {"region", "br"}}, "minor", Direction::Drop, 20, 30),    // D: ended long ago
      alarm(d, {{"device", "tv"}, {"region", "br"}}, "major", Direction::Spike, 75, 99)};  // E: grouped with C
  PushReport report = push_alarms(d, alarms, config, push);
  EXPECT_EQ(report.firing, 4u);
  EXPECT_EQ(report.past, 1u);
  EXPECT_EQ(report.requests, 2u);  // critical first, then the warnings

  // Two groups (by device): roku with A alone (B inhibited), tv with C and E together.
  auto notes = am.wait_for(2);
  std::this_thread::sleep_for(std::chrono::seconds(2));  // nothing more should come
  notes = am.notifications();
  ASSERT_EQ(notes.size(), 2u) << json(notes).dump();
  std::map<std::string, std::set<std::string>> groups;
  for (const json& n : notes) groups[n.at("groupLabels").value("device", "")] = alert_keys(n.at("alerts"));
  EXPECT_EQ(groups["roku"], (std::set<std::string>{"roku//critical/drop"}));
  EXPECT_EQ(groups["tv"], (std::set<std::string>{"tv/us/warning/drop", "tv/br/warning/spike"}));
  for (const json& n : notes)
    for (const json& a : n.at("alerts")) {
      EXPECT_EQ(a.at("status"), "firing");
      for (auto it = a.at("annotations").begin(); it != a.at("annotations").end(); ++it)
        EXPECT_TRUE(it->is_string()) << it.key();
      EXPECT_FALSE(a.at("annotations").value("summary", "").empty());
    }
  // Alertmanager holds all four; B is the one inhibited, by A.
  json held = am.alerts();
  ASSERT_EQ(held.size(), 4u) << held.dump();
  for (const json& a : held) {
    const bool is_b = a.at("labels").value("region", "") == "br" && a.at("labels").value("device", "") == "roku";
    EXPECT_EQ(a.at("status").at("inhibitedBy").empty(), !is_b) << a.dump();
  }
  // amtool shows the firing ones, and the inhibited one with -i.
  const std::string amtool = test::find_program("amtool");
  if (!amtool.empty()) {
    const auto [code, out] = test::run_command(amtool + " alert query --alertmanager.url=" + am.url() +
                                               " alertname=VigilAnomaly 2>&1");
    EXPECT_EQ(code, 0) << out;
    EXPECT_EQ(test::count_lines(out), 4u) << out;  // header + A, C, E
    const auto [code_i, out_i] = test::run_command(amtool + " alert query -i --alertmanager.url=" + am.url() +
                                                   " alertname=VigilAnomaly 2>&1");
    EXPECT_EQ(code_i, 0) << out_i;
    EXPECT_EQ(test::count_lines(out_i), 2u) << out_i;  // header + B, the inhibited one
    EXPECT_NE(out_i.find("on device=roku,region=br"), std::string::npos) << out_i;
  }

  // A re-run with the same alarms: the same four alerts, no new notification.
  report = push_alarms(d, alarms, config, push);
  EXPECT_EQ(report.firing, 4u);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(am.notifications().size(), 2u) << json(am.notifications()).dump();
  EXPECT_EQ(am.alerts().size(), 4u);

  // Later data: C ended (resolved with its real end), E grew critical (its warning is resolved).
  alarms[2].last = 80;
  alarms[4].severity = "critical";
  report = push_alarms(d, alarms, config, push);
  EXPECT_EQ(report.resolved, 1u);
  EXPECT_EQ(report.severity_changed, 1u);
  EXPECT_EQ(report.firing, 3u);  // A, B, E
  // The tv group is notified again (once, or twice if a flush fell between the two requests): C
  // resolved with its real end, E firing as critical. E's warning is resolved too, but silently:
  // the critical E inhibits it (same device and direction).
  std::set<std::string> resolved, firing, groups_later;
  for (int i = 0; i < 100 && (resolved.empty() || firing.empty()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    notes = am.notifications();
    resolved.clear();
    firing.clear();
    for (size_t k = 2; k < notes.size(); ++k) {
      groups_later.insert(notes[k].at("groupLabels").value("device", ""));
      for (const json& a : notes[k].at("alerts")) {
        const std::string key = *alert_keys(json::array({a})).begin();
        if (a.at("status") == "resolved") {
          resolved.insert(key);
          EXPECT_EQ(a.at("endsAt"), format_iso(d.time_at(80) + d.step));
        } else if (key != "tv/us/warning/drop") {  // C, firing in a notification before its end came
          firing.insert(key);
        }
      }
    }
  }
  EXPECT_EQ(resolved, (std::set<std::string>{"tv/us/warning/drop"})) << json(notes).dump();
  EXPECT_EQ(firing, (std::set<std::string>{"tv/br/critical/spike"})) << json(notes).dump();
  EXPECT_EQ(groups_later, (std::set<std::string>{"tv"}));
  // Alertmanager's list leaves out resolved alerts.
  EXPECT_EQ(alert_keys(am.alerts()), (std::set<std::string>{"roku//critical/drop", "roku/br/warning/drop", "tv/br/critical/spike"}));
}

// A long CSV with an outage still going at the end: one open alarm.
std::string outage_csv(const test::TempDir& tmp) {
  std::string csv = "timestamp,region,stack,value\n";
  const int64_t start = *parse_timestamp("2026-03-01T00:00:00Z");
  const int points = 10 * 24;
  for (int t = 0; t < points; ++t)
    for (const char* region : {"br", "uk"})
      for (const char* stack : {"web", "tv"}) {
        double v = 1000 + 400 * std::sin(2 * M_PI * (t % 24) / 24.0) + ((t * 7) % 5);
        if (std::string(region) == "br" && std::string(stack) == "web" && t >= points - 6) v *= 0.2;
        csv += format_iso(start + t * 3600) + "," + region + "," + stack + "," + std::to_string(v) + "\n";
      }
  test::write_file(tmp.file("in.csv"), csv);
  return tmp.file("in.csv");
}

TEST(AlertmanagerCli, ScorePushesTheOpenAlarmAndARerunDeduplicates) {
  LiveAlertmanager am;
  if (!am.available()) GTEST_SKIP() << "prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)";
  ASSERT_TRUE(am.ready()) << am.log();
  test::TempDir tmp;
  const std::string input = outage_csv(tmp);
  const std::string command = "score --input " + input + " --backend cpu --alarms " + tmp.file("alarms.jsonl") +
                              " --alertmanager " + am.url();
  auto r = test::run_vigil(command);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string alarms = test::read_file(tmp.file("alarms.jsonl"));
  ASSERT_GE(test::count_lines(alarms), 1u);
  EXPECT_NE(r.out.find("alertmanager " + am.url() + ": 1 firing, 0 resolved"), std::string::npos) << r.out;
  json held = am.alerts();
  ASSERT_EQ(held.size(), 1u) << held.dump();
  EXPECT_EQ(held[0].at("labels").value("region", ""), "br");
  EXPECT_EQ(held[0].at("labels").value("direction", ""), "drop");
  r = test::run_vigil(command);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(am.alerts().size(), 1u);
  EXPECT_EQ(am.alerts()[0].at("fingerprint"), held[0].at("fingerprint"));
}

TEST(AlertmanagerCli, DownIsExit4AfterTheOutputsAreWritten) {
  test::TempDir tmp;
  const std::string input = outage_csv(tmp);
  const auto r = test::run_vigil("score --input " + input + " --backend cpu --retries 1 --alarms " +
                                 tmp.file("alarms.jsonl") + " --alertmanager http://127.0.0.1:" +
                                 std::to_string(test::free_port()));
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("cannot reach the server"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the output files are written, nothing was pushed"), std::string::npos) << r.err;
  EXPECT_GE(test::count_lines(test::read_file(tmp.file("alarms.jsonl"))), 1u);
}

TEST(AlertmanagerCli, Http5xxIsRetriedThenExit4) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    ex.status = 500;
    ex.reply = "internal";
  });
  test::TempDir tmp;
  const auto r = test::run_vigil("score --input " + outage_csv(tmp) + " --backend cpu --retries 2 --alarms " +
                                 tmp.file("alarms.jsonl") + " --alertmanager " + stub.url());
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("HTTP 500 (3 attempts)"), std::string::npos) << r.err;
  EXPECT_EQ(stub.exchanges().size(), 3u);
  EXPECT_TRUE(std::filesystem::exists(tmp.file("alarms.jsonl")));
}

TEST(AlertmanagerCli, A400IsExit4WithTheServersReason) {
  test::HttpStub stub([](test::HttpExchange& ex) {
    if (ex.method == "GET") {
      ex.reply = "[]";
    } else {
      ex.status = 400;
      ex.reply = "{\"code\":400,\"message\":\"start time must be before end time\"}";
    }
  });
  test::TempDir tmp;
  const auto r = test::run_vigil("score --input " + outage_csv(tmp) + " --backend cpu --alarms " +
                                 tmp.file("alarms.jsonl") + " --alertmanager " + stub.url());
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(test::count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("HTTP 400: {\"code\":400,\"message\":\"start time must be before end time\"}"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(stub.exchanges().size(), 2u);  // the GET of held alerts and one POST, not retried
  EXPECT_TRUE(std::filesystem::exists(tmp.file("alarms.jsonl")));
}

}  // namespace
}  // namespace vigil
