#!/usr/bin/env python3
"""png_check.py PNG [--min-colours N] [--min-ink PERCENT]: whether a screenshot shows something.

Decodes the PNG with the standard library alone (zlib; 8-bit greyscale, RGB, grey+alpha or
RGBA, not interlaced: what Chromium writes), then counts the distinct colours and the share of
pixels that are not white. Prints both; exits 0 when there are at least N colours (default 16)
and at least PERCENT % of non-white pixels (default 1), 1 when not, 2 for a file it cannot read.
"""
import struct
import sys
import zlib

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # by PNG colour type


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    at, idat, header = 8, [], None
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in CHANNELS or interlace:
        raise ValueError("unsupported PNG: depth %d, colour type %d, interlace %d" % (depth, colour_type, interlace))
    return width, height, CHANNELS[colour_type], zlib.decompress(b"".join(idat))


def rows(width, height, bpp, raw):
    """The unfiltered rows (PNG filters 0-4), each a bytes object of width * bpp."""
    stride = width * bpp
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:  # Up
            line = bytearray((a + b) & 255 for a, b in zip(line, previous))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 255
        elif kind == 4:  # Paeth
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif kind != 0:
            raise ValueError("bad filter type %d in row %d" % (kind, y))
        previous = line
        yield bytes(line)


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path, min_colours, min_ink = argv[1], 16, 1.0
    options = argv[2:]
    for flag, value in zip(options[::2], options[1::2]):
        if flag == "--min-colours":
            min_colours = int(value)
        elif flag == "--min-ink":
            min_ink = float(value)
    try:
        width, height, bpp, raw = read_png(path)
    except (OSError, ValueError, zlib.error) as e:
        print("png_check: %s: %s" % (path, e))
        return 2
    white = b"\xff" * bpp
    colours, ink = set(), 0
    for line in rows(width, height, bpp, raw):
        for x in range(0, len(line), bpp):
            pixel = line[x:x + bpp]
            if pixel != white:
                ink += 1
                colours.add(pixel)
    colours.add(white)
    percent = 100.0 * ink / (width * height)
    print("png_check: %s: %dx%d, %d colours, %.1f %% not white" % (path, width, height, len(colours), percent))
    return 0 if len(colours) >= min_colours and percent >= min_ink else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
