#!/usr/bin/python3
"""Structure checks of a `vigil report` page against the run's files it was drawn from.

usage: check_report.py REPORT.html ALARMS.jsonl SCORES.csv EVENTS.csv

- the page is well-formed XHTML with inline SVG (xml.etree parses it), has no script and loads
  nothing from the network;
- every alarm has a section;
- every point a plot draws, read back through the plot's axes, is the value scores.csv holds
  for that series and time, and every value of the window is drawn;
- an event drawn on a series' plot has a scope holding that series, and an event whose time
  overlaps a plot but whose scope does not hold the series is not drawn there.
Prints what it checked; exits 1 with the first failure.
"""
import csv
import json
import re
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

SVG = "{http://www.w3.org/2000/svg}"
XHTML = "{http://www.w3.org/1999/xhtml}"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def unix(text):
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp())


def scope_holds(scope_text, dims):
    if scope_text.strip() == "*":
        return True
    terms = {}
    for term in scope_text.split(";"):
        dim, value = term.split("=", 1)
        terms.setdefault(dim.strip(), set()).add(value.strip())
    return all(dims.get(dim) in values for dim, values in terms.items())


def main():
    report, alarms_path, scores_path, events_path = sys.argv[1:5]
    text = open(report, encoding="utf-8").read()
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        fail("not well-formed XML: %s" % e)
    if root.tag != XHTML + "html":
        fail("root is %s, not XHTML's html" % root.tag)
    if re.search(r"<script|\ssrc=|href=\"https?:|url\(https?:|@import", text):
        fail("the page has a script or a network reference")

    sections = {s.get("id") for s in root.iter(XHTML + "section")}
    alarms = [json.loads(line) for line in open(alarms_path) if line.strip()]
    for a in alarms:
        if a["id"] not in sections:
            fail("no section for " + a["id"])

    with open(scores_path, newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        dims = header[1:header.index("value")]
        vi = header.index("value")
        values = {}
        for r in rows:
            key = ",".join("%s=%s" % (d, v) for d, v in zip(dims, r[1:1 + len(dims)]))
            values.setdefault(key, {})[unix(r[0])] = float(r[vi]) if r[vi] else None

    events = list(csv.DictReader(open(events_path)))
    plots = checked_points = drawn_events = excluded_events = 0
    for svg in root.iter(SVG + "svg"):
        key = svg.get("data-series")
        if not key:
            continue  # an aggregate or a bar chart
        if key not in values:
            fail("plot of %s, which scores.csv does not have" % key)
        series = values[key]
        t0, t1 = int(svg.get("data-t0")), int(svg.get("data-t1"))
        v0, v1 = float(svg.get("data-v0")), float(svg.get("data-v1"))
        x0, x1 = float(svg.get("data-x0")), float(svg.get("data-x1"))
        y0, y1 = float(svg.get("data-y0")), float(svg.get("data-y1"))
        step = min(b - a for a, b in zip(sorted(series), sorted(series)[1:]))
        drawn = {}
        for path in svg.iter(SVG + "path"):
            if path.get("class") != "values":
                continue
            for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", path.get("d")):
                t = t0 + (float(x) - x0) / (x1 - x0) * (t1 - t0)
                t = int(round(t / step) * step)
                v = v0 + (y0 - float(y)) / (y0 - y1) * (v1 - v0)
                drawn[t] = v
        tolerance = 0.002 * (v1 - v0) + 1e-9
        for t, v in drawn.items():
            want = series.get(t)
            if want is None:
                fail("%s: a point drawn at %d where scores.csv has no value" % (key, t))
            if abs(v - want) > tolerance:
                fail("%s at %d: drawn %.6g, scores.csv %.6g" % (key, t, v, want))
        in_window = [t for t, v in series.items() if t0 <= t < t1 and v is not None]
        if len(in_window) != len(drawn):
            fail("%s: %d values in the window, %d drawn" % (key, len(in_window), len(drawn)))
        checked_points += len(drawn)
        plots += 1
        # Events: drawn only where their scope holds the series.
        series_dims = dict(part.split("=", 1) for part in key.split(","))
        names = {r.find(SVG + "title").text for r in svg.iter(SVG + "rect") if r.get("class") == "event"}
        for e in events:
            overlaps = unix(e["start"]) < t1 and unix(e["end"]) > t0
            holds = scope_holds(e["scope"], series_dims)
            if overlaps and holds and e["event"] not in names:
                fail("%s: event %s at %s is in its scope and window but not drawn" % (key, e["event"], e["start"]))
            if overlaps and not holds:
                excluded_events += 1
                if e["event"] in names and not any(
                        scope_holds(o["scope"], series_dims) and o["event"] == e["event"] for o in events):
                    fail("%s: event %s drawn though its scope does not hold the series" % (key, e["event"]))
        drawn_events += len(names)
    if plots == 0 or checked_points == 0:
        fail("no plot drawn")
    print("ok: %d alarms with sections, %d plots, %d points matched scores.csv, %d events drawn in scope, "
          "%d event-plot pairs left out by scope" % (len(alarms), plots, checked_points, drawn_events, excluded_events))
    if drawn_events == 0 or excluded_events == 0:
        fail("the scope filter was not exercised (events drawn %d, left out %d)" % (drawn_events, excluded_events))


if __name__ == "__main__":
    main()
