#!/usr/bin/python3
"""Checks a browser's screenshot of the sample's report and the browser's log.

usage: check_screenshot.py SHOT.png BROWSER.log

The screenshot (the top of the page: the summary and the first alarm's plot) is decoded here
(PNG: zlib and the scanline filters, no imaging library). The plot area is where the band's
colour is; inside it the series' line and the points outside the band must be drawn, and the
page must not be blank. The log must hold no console message: the page has no script, so any
is an error (a parse error, a blocked load).
"""
import struct
import sys
import zlib

BAND = (0xCF, 0xE0, 0xF3)
VALUES = (0x14, 0x36, 0x5D)
OUTSIDE = (0xD6, 0x27, 0x28)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def decode_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(path + " is not a PNG")
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    if depth != 8 or color not in (2, 6):
        fail("unexpected PNG format depth %d color %d" % (depth, color))
    bpp = 3 if color == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def near(px, color, tol):
    return all(abs(px[k] - color[k]) <= tol for k in range(3))


def main():
    shot, log = sys.argv[1:3]
    width, height, bpp, rows = decode_png(shot)
    band = []
    for y in range(height):
        row = rows[y]
        for x in range(width):
            if near(row[x * bpp:x * bpp + 3], BAND, 4):
                band.append((x, y))
    if len(band) < 5000:
        fail("only %d pixels of the band's colour: no plot drawn" % len(band))
    # The first alarm's main plot: of the runs of rows holding the band's colour (split at gaps of
    # 20 rows), the one with the most of it (the legend's swatch and the small plots hold less).
    per_row = {}
    for _, y in band:
        per_row[y] = per_row.get(y, 0) + 1
    clusters, current = [], []
    for y in sorted(per_row):
        if current and y - current[-1] > 20:
            clusters.append(current)
            current = []
        current.append(y)
    clusters.append(current)
    best = max(clusters, key=lambda rows_: sum(per_row[y] for y in rows_))
    y0, y1 = best[0], best[-1]
    x0 = min(x for x, y in band if y0 <= y <= y1)
    x1 = max(x for x, y in band if y0 <= y <= y1)
    line = outside = 0
    colours = set()
    for y in range(y0, y1 + 1):
        row = rows[y]
        for x in range(x0, x1 + 1):
            px = row[x * bpp:x * bpp + 3]
            colours.add(bytes(px))
            line += near(px, VALUES, 40)
            outside += near(px, OUTSIDE, 40)
    print("plot area %dx%d at (%d, %d): %d band pixels, %d line pixels, %d out-of-band marks, %d colours"
          % (x1 - x0 + 1, y1 - y0 + 1, x0, y0, len(band), line, outside, len(colours)))
    if line < 500:
        fail("the series' line is not drawn in the plot area")
    if outside < 20:
        fail("no point outside the band is marked")
    if len(colours) < 20:
        fail("the plot area is nearly uniform")
    errors = [l for l in open(log, errors="replace") if ":CONSOLE" in l or "Uncaught" in l]
    if errors:
        fail("the page logged: " + errors[0].strip())
    print("ok: no console message in the browser's log")


if __name__ == "__main__":
    main()
