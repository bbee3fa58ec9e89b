#pragma once
// `vigil report`: one self-contained page for the engineer on call, built from a run's output
// files (alarms, ledger, scores, optionally the event schedule): XHTML with inline SVG drawn
// here, no script, no network, times in UTC. A summary with the alarms sorted by severity; per
// alarm its strongest series against the band, its other members, their aggregate, the events in
// its scope and the evidence; per external-event notice the stacks that moved together; the
// suppressed candidates nearest to being raised with the rule that held each back; and, given
// the truth, how each decision changed the count.
#include <cstddef>
#include <map>
#include <string>

namespace vigil {

// What a truth file says about the run (vigil eval's counts, tools/evaluate.cpp), for the picture.
struct TruthCounts {
  // Truth record kind -> ledger reason -> candidate episodes overlapping a record of that kind.
  std::map<std::string, std::map<std::string, int>> decisions;
  int incidents = 0, detected = 0, alarms = 0, false_alarms = 0;
  std::map<std::string, int> false_alarms_by_kind;  // "none": on no record
};

struct ReportOptions {
  std::string alarms, ledger, scores;  // paths of the run's outputs
  std::string events;                  // the event schedule, or empty
  std::string truth_source;            // shown in the summary when `truth` is given
  const TruthCounts* truth = nullptr;
  size_t max_drawn = 25;     // alarms drawn in full, most severe first; the rest are listed
  size_t max_notices = 10;   // external-event notices drawn
  size_t near_misses = 8;    // suppressed candidates shown nearest to being raised
};

// The page. Throws InputError ("file:line: problem") when an input is malformed or the scores
// file does not belong to the alarms (a drawn series, or a time inside its alarm, is missing).
std::string render_report(const ReportOptions& options);
// render_report written atomically to `path`: nothing is left behind on an error.
void write_report(const std::string& path, const ReportOptions& options);

}  // namespace vigil
