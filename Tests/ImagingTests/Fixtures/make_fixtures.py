#!/usr/bin/env python3
"""Writes the reference images the Imaging tests decode, each with the pixels it must decode to.

    python Tests/ImagingTests/Fixtures/make_fixtures.py

PNGs come from a small PNG writer below (not PIL's), so every colour type x bit depth, Adam7 interlacing, every
filter type (row r uses filter r % 5) and tRNS can be made; their expected pixels follow from the source arrays by
the decoder's documented rules (16-bit -> high byte, low depths scaled up, tRNS -> alpha channel). JPEGs are written
and decoded by PIL (libjpeg-turbo); PGM/PPM by hand. Resize references are PIL's Image.resize.

Every fixture is a row of manifest.json: {"file", "expected" (raw 8-bit samples, row-major, interleaved), "width",
"height", "channels", "tolerance" (max per-sample difference allowed)}; resize rows add "resize": {"source",
"filter", "width", "height"}.
"""
import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240501)
manifest = []


def save(name, data, expected, tolerance=0, **extra):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    expected = np.ascontiguousarray(expected, dtype=np.uint8)
    if expected.ndim == 2:
        expected = expected[:, :, None]
    raw = name.rsplit(".", 1)[0] + ".raw"
    with open(os.path.join(HERE, raw), "wb") as f:
        f.write(expected.tobytes())
    h, w, c = expected.shape
    manifest.append(dict(file=name, expected=raw, width=w, height=h, channels=c, tolerance=tolerance, **extra))


# ---- a minimal PNG writer ----

def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filter_rows(rows, bpp):
    """rows: list of bytes (one pass); row r gets filter r % 5."""
    out = bytearray()
    prev = bytes(len(rows[0])) if rows else b""
    for r, row in enumerate(rows):
        f = r % 5
        out.append(f)
        for i, x in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) >> 1, paeth(a, b, c)][f]
            out.append((x - pred) & 0xFF)
        prev = row
    return out


def pack_row(samples, depth):
    """samples: 1-D sequence of ints at `depth` bits."""
    if depth == 16:
        return b"".join(struct.pack(">H", int(s)) for s in samples)
    if depth == 8:
        return bytes(int(s) for s in samples)
    bits = "".join(format(int(s), "0%db" % depth) for s in samples)
    bits += "0" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(samples, depth, color_type, interlace=False, palette=None, trns=None):
    """samples: uint array [h, w, stored channels] at `depth` bits."""
    h, w, ch = samples.shape
    bpp = max(1, ch * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    idat = bytearray()
    for x0, y0, dx, dy in passes:
        sub = samples[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        rows = [pack_row(sub[y].reshape(-1), depth) for y in range(sub.shape[0])]
        idat += filter_rows(rows, bpp)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, int(interlace)))
    out += chunk(b"tEXt", b"Comment\x00an ancillary chunk the decoder skips")
    if palette is not None:
        out += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += chunk(b"tRNS", trns)
    z = zlib.compress(bytes(idat), 9)
    # Split the stream over several IDAT chunks.
    for i in range(0, len(z), 64):
        out += chunk(b"IDAT", z[i:i + 64])
    return out + chunk(b"IEND", b"")


def to8(samples, depth):
    if depth == 16:
        return samples >> 8
    return samples * (255 // ((1 << depth) - 1))


def make_pngs():
    W, H = 13, 11
    channels_of = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
    depths_of = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
    for color_type, depths in depths_of.items():
        for depth in depths:
            for interlace in (False, True):
                ch = channels_of[color_type]
                samples = rng.integers(0, 1 << depth, size=(H, W, ch), dtype=np.int64)
                name = "png_ct%d_d%d%s.png" % (color_type, depth, "_adam7" if interlace else "")
                if color_type == 3:
                    n = 1 << depth
                    palette = rng.integers(0, 256, size=(n, 3))
                    data = png(samples, depth, 3, interlace, palette=palette)
                    expected = palette[samples[:, :, 0]]
                else:
                    data = png(samples, depth, color_type, interlace)
                    expected = to8(samples, depth)
                save(name, data, expected)
    # tRNS: a key colour in gray and RGB images, alpha per entry in a palette.
    for depth in (2, 8, 16):
        samples = rng.integers(0, 1 << depth, size=(H, W, 1), dtype=np.int64)
        key = int(samples[3, 4, 0])
        alpha = np.where(samples[:, :, 0] == key, 0, 255)
        expected = np.dstack([to8(samples[:, :, 0], depth), alpha])
        save("png_ct0_d%d_trns.png" % depth, png(samples, depth, 0, trns=struct.pack(">H", key)), expected)
    for depth in (8, 16):
        samples = rng.integers(0, 4, size=(H, W, 3), dtype=np.int64) * ((1 << depth) - 1) // 3
        key = [int(v) for v in samples[5, 6]]
        alpha = np.where(np.all(samples == key, axis=2), 0, 255)
        expected = np.dstack([to8(samples, depth), alpha])
        save("png_ct2_d%d_trns.png" % depth, png(samples, depth, 2, trns=struct.pack(">HHH", *key)), expected)
    palette = rng.integers(0, 256, size=(16, 3))
    alphas = rng.integers(0, 256, size=10)  # shorter than the palette: the rest are opaque
    samples = rng.integers(0, 16, size=(H, W, 1), dtype=np.int64)
    full_alpha = np.concatenate([alphas, np.full(6, 255)])
    expected = np.dstack([palette[samples[:, :, 0]], full_alpha[samples[:, :, 0]]])
    save("png_ct3_d4_trns_adam7.png", png(samples, 4, 3, True, palette=palette, trns=bytes(alphas.astype(np.uint8))),
         expected)
    # Tiny interlaced images leave some Adam7 passes empty.
    for w, h in ((1, 1), (3, 2), (2, 5)):
        samples = rng.integers(0, 256, size=(h, w, 3), dtype=np.int64)
        save("png_rgb_%dx%d_adam7.png" % (w, h), png(samples, 8, 2, True), samples)
    # One written by PIL (zlib's own filter choice), for good measure.
    pixels = rng.integers(0, 256, size=(H, W, 4), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(buffer, "PNG")
    save("png_pil_rgba.png", buffer.getvalue(), pixels)


def smooth_rgb(w, h):
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / 5.0)
    g = 128 + 100 * np.cos(y / 7.0)
    b = (x * 255 // max(1, w - 1) + y * 3) % 256
    return np.dstack([r, g, b]).astype(np.uint8)


def make_jpegs():
    rgb = smooth_rgb(40, 30)
    for name, image, options in [
        ("jpeg_baseline.jpg", Image.fromarray(rgb, "RGB"), dict(quality=90)),
        ("jpeg_progressive.jpg", Image.fromarray(rgb, "RGB"), dict(quality=90, progressive=True)),
        ("jpeg_gray.jpg", Image.fromarray(rgb[:, :, 0], "L"), dict(quality=90)),
        ("jpeg_cmyk.jpg", Image.fromarray(rgb, "RGB").convert("CMYK"), dict(quality=95)),
    ]:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", **options)
        decoded = Image.open(io.BytesIO(buffer.getvalue()))
        expected = np.asarray(decoded.convert("L" if decoded.mode == "L" else "RGB"))
        save(name, buffer.getvalue(), expected, tolerance=1)  # PIL and Debian ship different libjpeg-turbo builds


def make_pnms():
    W, H = 7, 5
    gray = rng.integers(0, 256, size=(H, W), dtype=np.int64)
    rgb = rng.integers(0, 256, size=(H, W, 3), dtype=np.int64)

    def ascii_body(values, per_line=9):
        flat = [str(int(v)) for v in values.reshape(-1)]
        return "\n".join(" ".join(flat[i:i + per_line]) for i in range(0, len(flat), per_line)) + "\n"

    save("pnm_p2.pgm", ("P2\n# a comment\n%d %d\n255\n" % (W, H) + ascii_body(gray)).encode(), gray)
    save("pnm_p3.ppm", ("P3 %d %d 255\n" % (W, H) + ascii_body(rgb)).encode(), rgb)
    save("pnm_p5.pgm", b"P5\n%d %d\n255\n" % (W, H) + bytes(gray.astype(np.uint8).reshape(-1)), gray)
    save("pnm_p6.ppm", b"P6\n# made by make_fixtures.py\n%d %d\n255\n" % (W, H) + bytes(rgb.astype(np.uint8).reshape(-1)),
         rgb)
    deep = rng.integers(0, 65536, size=(H, W), dtype=np.int64)
    scale = lambda v, m: (v * 255 + m // 2) // m  # noqa: E731 — the decoder's documented rounding
    save("pnm_p5_16bit.pgm", b"P5 %d %d 65535\n" % (W, H) + b"".join(struct.pack(">H", int(v)) for v in deep.reshape(-1)),
         scale(deep, 65535))
    odd = rng.integers(0, 1001, size=(H, W), dtype=np.int64)
    save("pnm_p2_maxval1000.pgm", ("P2\n%d %d\n# comment before maxval\n1000\n" % (W, H) + ascii_body(odd)).encode(),
         scale(odd, 1000))
    small = rng.integers(0, 16, size=(H, W, 3), dtype=np.int64)
    save("pnm_p6_maxval15.ppm", b"P6 %d %d 15\n" % (W, H) + bytes(small.astype(np.uint8).reshape(-1)), scale(small, 15))


def make_resize_references():
    rgb = rng.integers(0, 256, size=(23, 37, 3), dtype=np.uint8)
    rgb[5:15, 10:30] = smooth_rgb(20, 10)
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, "PNG")
    with open(os.path.join(HERE, "resize_source_rgb.png"), "wb") as f:
        f.write(buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray(gray, "L").save(buffer, "PNG")
    with open(os.path.join(HERE, "resize_source_gray.png"), "wb") as f:
        f.write(buffer.getvalue())
    filters = {"bilinear": Image.BILINEAR, "nearest": Image.NEAREST, "area": Image.BOX}
    for source, array, mode in (("resize_source_rgb.png", rgb, "RGB"), ("resize_source_gray.png", gray, "L")):
        for filter_name, pil_filter in filters.items():
            for w, h in ((28, 28), (9, 5), (80, 61), (37, 7)):
                out = np.asarray(Image.fromarray(array, mode).resize((w, h), pil_filter))
                name = "resize_%s_%s_%dx%d" % (mode.lower(), filter_name, w, h)
                with open(os.path.join(HERE, name + ".raw"), "wb") as f:
                    f.write(np.ascontiguousarray(out).tobytes())
                manifest.append(dict(file=None, expected=name + ".raw", width=w, height=h, channels=1 if mode == "L" else 3,
                                     tolerance=0, resize=dict(source=source, filter=filter_name, width=w, height=h)))


def main():
    for name in os.listdir(HERE):
        if name.endswith((".png", ".jpg", ".pgm", ".ppm", ".raw")):
            os.remove(os.path.join(HERE, name))
    make_pngs()
    make_jpegs()
    make_pnms()
    make_resize_references()
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print("wrote %d fixtures to %s" % (len(manifest), HERE))


if __name__ == "__main__":
    main()
