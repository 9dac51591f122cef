#!/usr/bin/env python3
"""Minutiae records written by an independent implementation: this script
lays out ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 records byte by byte
from the standards' layouts (protocols.md §3), sharing no code with
examgate-minutiae. It writes, into OUT_DIR:

  a.iso   finger A, first impression (ISO 19794-2)
  b.ansi  finger A, second impression: turned 12 degrees, moved, jittered,
          3 minutiae missed and 2 spurious ones (ANSI 378)
  c.iso   finger C, another finger (ISO 19794-2)

Usage: write_records.py OUT_DIR
"""
import math
import os
import random
import struct
import sys

WIDTH, HEIGHT = 400, 500


def finger(seed, count=42):
    rng = random.Random(seed)
    pts = []
    while len(pts) < count:
        x, y = rng.uniform(60, WIDTH - 60), rng.uniform(60, HEIGHT - 60)
        if all(math.hypot(x - px, y - py) > 18 for px, py, _, _ in pts):
            pts.append((x, y, rng.uniform(0, 360), rng.choice((1, 2))))
    return pts


def impression(pts, seed, turn_deg, dx, dy, missed, spurious):
    rng = random.Random(seed)
    cx, cy = WIDTH / 2, HEIGHT / 2
    t = math.radians(turn_deg)
    out = []
    for x, y, a, kind in pts[missed:]:
        rx = cx + (x - cx) * math.cos(t) - (y - cy) * math.sin(t) + dx + rng.uniform(-2, 2)
        ry = cy + (x - cx) * math.sin(t) + (y - cy) * math.cos(t) + dy + rng.uniform(-2, 2)
        # Image y runs down and ISO angles run counterclockwise: turning the
        # points by +t turns their directions by -t.
        out.append((rx, ry, (a - turn_deg + rng.uniform(-4, 4)) % 360, kind))
    for _ in range(spurious):
        out.append((rng.uniform(40, WIDTH - 40), rng.uniform(40, HEIGHT - 40), rng.uniform(0, 360), 1))
    return [(x, y, a, k) for x, y, a, k in out if 0 <= x < WIDTH and 0 <= y < HEIGHT]


def minutia_bytes(x, y, angle_units, kind, quality):
    return struct.pack(">HHBB", (kind << 14) | int(x), int(y), angle_units, quality)


def iso(pts):
    body = b"".join(minutia_bytes(x, y, int(round(a * 256 / 360)) % 256, k, 60) for x, y, a, k in pts)
    view = struct.pack(">BBBB", 2, 0, 80, len(pts)) + body + struct.pack(">H", 0)
    header_len = 24
    total = header_len + len(view)
    header = b"FMR\x00" + b" 20\x00" + struct.pack(">IHHHHHBB", total, 0, WIDTH, HEIGHT, 197, 197, 1, 0)
    assert len(header) == header_len
    return header + view


def ansi(pts):
    body = b"".join(minutia_bytes(x, y, int(round(a / 2)) % 180, k, 60) for x, y, a, k in pts)
    view = struct.pack(">BBBB", 2, 0, 80, len(pts)) + body + struct.pack(">H", 0)
    header_len = 26
    total = header_len + len(view)
    # magic, version, length (2 bytes), product id owner + type (4), capture equipment (2),
    # width, height, x and y resolution (px/cm), views, reserved.
    header = b"FMR\x00" + b" 20\x00" + struct.pack(">HIHHHHHBB", total, 0, 0, WIDTH, HEIGHT, 197, 197, 1, 0)
    assert len(header) == header_len, len(header)
    return header + view


def main():
    out = sys.argv[1]
    a = finger(7)
    c = finger(99)
    files = {
        "a.iso": iso(impression(a, 1, 0, 0, 0, 0, 0)),
        "b.ansi": ansi(impression(a, 2, 12, 14, -9, 3, 2)),
        "c.iso": iso(impression(c, 3, 0, 0, 0, 0, 0)),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
