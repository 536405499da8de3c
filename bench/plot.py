#!/usr/bin/env python3
"""Draws the figures recorded in bench/RESULTS.md as docs/benchmarks.png (the README's Benchmarks plot).

Reads the tables that RESULTS.md holds — engine vs onnxruntime per model and batch, GEMM vs numpy, the
HTTP server vs Hummingbird, serving vs FastAPI — and draws one panel for each it finds; nothing is
measured here. Run it after updating RESULTS.md:

    python3 -m pip install -r bench/requirements.txt    # matplotlib
    python3 bench/plot.py [--results bench/RESULTS.md] [--output docs/benchmarks.png]
"""
import argparse
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OURS, OTHER, THIRD = "#1f6fb4", "#b0b0b0", "#e08a2c"


# ---------------------------------------------------------------------------------------------
# RESULTS.md

def sections(text):
    """{heading: body} for the `## ` sections."""
    parts = re.split(r"^## +(.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def find_section(all_sections, *words):
    for heading, body in all_sections.items():
        if all(word.lower() in heading.lower() for word in words):
            return heading, body
    return None, None


def number(text):
    return float(text.replace(",", ""))


def engine_rows(body):
    """(model path, batch, deepserve ms, onnxruntime ms, ratio): the ratio of the minima where the run printed them
    (on a shared host the runs the neighbours left alone), else the printed ratio of the medians."""
    rows = []
    # compare.py prints "name batch ours (min) theirs (min) ratio× shape"; older runs had no minima.
    minimum = r"(?:\s+\(\s*([\d.]+)\))?"
    for found in re.finditer(r"^(\S+)\s+(\d+)\s+([\d.]+)" + minimum + r"\s+([\d.]+)" + minimum + r"\s+([\d.]+)×", body, re.M):
        path, batch, ours, ours_min, theirs, theirs_min, ratio = found.groups()
        if ours_min and theirs_min and float(theirs_min) > 0:
            ratio = float(ours_min) / float(theirs_min)
        rows.append((path, int(batch), float(ours), float(theirs), float(ratio)))
    return rows


def gemm_rows(body):
    """(size, deepserve GFLOP/s, numpy GFLOP/s, onnxruntime GFLOP/s)"""
    return [(int(size), float(ours), float(numpy), float(ort))
            for size, ours, numpy, ort in re.findall(r"^\s*(\d+)³\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", body, re.M)]


def markdown_table(body):
    """The first Markdown table of a section as a list of rows of cells (header first)."""
    rows = [line.strip().strip("|").split("|") for line in body.splitlines() if line.strip().startswith("|")]
    rows = [[cell.strip() for cell in row] for row in rows]
    return [row for row in rows if not all(re.fullmatch(r":?-+:?", cell) for cell in row)]


def http_rows(body):
    """(connections, deepserve req/s, deepserve p99 ms, Hummingbird req/s, Hummingbird p99 ms)"""
    table = markdown_table(body)
    rows = []
    for row in table[1:]:
        if len(row) >= 5 and row[0].isdigit():
            rows.append((int(row[0]), number(row[1]), number(row[2].split()[0]),
                         number(row[3]), number(row[4].split()[0])))
    return rows


def serving_rows(body):
    """{server: [(connections, req/s, p50 ms, p99 ms)]}"""
    servers = {}
    for conns, server, rps, p50, p99 in re.findall(
            r"^(\d+)\s+(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+\d+\s*$", body, re.M):
        servers.setdefault(server, []).append((int(conns), float(rps), float(p50), float(p99)))
    return servers


def trivial_rows(body):
    """(connections, deepserve without access log req/s, its p99 ms, nginx req/s, nginx p99 ms) from run.sh's
    trivial-route table."""
    row = r"^(\d+)\s+\d+\s+[\d.]+\s+[\d.]+\s+(\d+)\s+[\d.]+\s+([\d.]+)\s+(\d+)\s+[\d.]+\s+([\d.]+)\s+[\d.]+×\s+[\d.]+×"
    return [(int(c), float(ours), float(ours_p99), float(nginx), float(nginx_p99))
            for c, ours, ours_p99, nginx, nginx_p99 in re.findall(row, body, re.M)]


def generation_rows(body):
    """(streams, tokens/s without step batching, tokens/s with it) from run.sh's generation table."""
    return [(int(n), float(off), float(on))
            for n, off, on in re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+×\s*$", body, re.M)]


def source(heading):
    """Where a panel's figures come from, for its title: the session named in its section's heading."""
    found = re.search(r"session \d+", heading or "")
    return f"\n(bench/RESULTS.md, {found.group(0)})" if found else ""


def short_model(path, paths):
    """models/NAME/1/model.onnx → NAME (NAME, whole where the folder has other parts); bench/.models/X.onnx → X"""
    parts = path.split("/")
    if parts[0] == "models" and len(parts) >= 4:
        stem = os.path.splitext(parts[-1])[0]
        if stem != "model":
            return f"{parts[1]} {stem}"
        siblings = [p for p in paths if p != path and p.split("/")[:2] == parts[:2]]
        return f"{parts[1]}, whole" if siblings else parts[1]
    return os.path.splitext(parts[-1])[0]


# ---------------------------------------------------------------------------------------------
# Panels

def label_bars(axis, bars, texts, size=8.5):
    for bar, text in zip(bars, texts):
        x, width, height = bar.get_x(), bar.get_width(), bar.get_height()
        axis.annotate(text, (x + width / 2, height), xytext=(0, 2), textcoords="offset points",
                      ha="center", va="bottom", fontsize=size)


def engine_panel(axis, rows, where=""):
    models = []
    for path, *_ in rows:
        if path not in models:
            models.append(path)
    batches = sorted({row[1] for row in rows})
    ratio = {(row[0], row[1]): row[4] for row in rows}
    height = 0.8 / len(batches)
    shades = [OURS, "#8bb8e0", "#c6dcf0"]
    for k, batch in enumerate(batches):
        ys = [m + (k - (len(batches) - 1) / 2) * height for m in range(len(models))]
        values = [ratio.get((model, batch), 0) for model in models]
        bars = axis.barh(ys, values, height=height * 0.92, color=shades[k % len(shades)], label=f"batch {batch}")
        for bar, value in zip(bars, values):
            axis.annotate(f"{value:.2f}×", (value, bar.get_y() + bar.get_height() / 2), xytext=(3, 0),
                          textcoords="offset points", va="center", fontsize=8.5,
                          bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"})
    axis.axvline(1.0, color="black", linewidth=1, linestyle="--")
    axis.set_yticks(range(len(models)), [short_model(model, models) for model in models])
    axis.invert_yaxis()
    axis.set_xlim(0, max(ratio.values()) * 1.18)
    axis.set_xlabel("deepserve time ÷ onnxruntime time, fastest runs (below 1: deepserve faster)")
    axis.set_title("Engine vs onnxruntime: latency, single thread" + where)
    axis.legend(loc="lower right", fontsize=9)


def gemm_panel(axis, rows, where=""):
    sizes = [f"{size}³" for size, *_ in rows]
    series = [("deepserve", OURS, [r[1] for r in rows]), ("numpy (OpenBLAS)", OTHER, [r[2] for r in rows]),
              ("onnxruntime", THIRD, [r[3] for r in rows])]
    width = 0.26
    for k, (name, colour, values) in enumerate(series):
        bars = axis.bar([i + (k - 1) * width for i in range(len(rows))], values, width * 0.95,
                        color=colour, label=name)
        label_bars(axis, bars, [f"{v:.0f}" for v in values])
    for i, row in enumerate(rows):
        axis.annotate(f"{row[1] / row[2]:.0%} of numpy", (i, 0), xytext=(0, -26), textcoords="offset points",
                      ha="center", fontsize=8.5, color=OURS, annotation_clip=False)
    axis.set_xticks(range(len(rows)), sizes)
    axis.set_ylabel("GFLOP/s (higher is better)")
    axis.set_ylim(0, max(max(v) for _, _, v in series) * 1.32)
    axis.set_title("GEMM vs numpy (OpenBLAS): fp32, single thread" + where)
    axis.legend(loc="upper center", fontsize=9, ncols=3, frameon=False)


def generation_panel(axis, rows, where=""):
    streams = [f"{n} stream{'s' if n > 1 else ''}" for n, *_ in rows]
    width = 0.38
    for k, (name, colour, values) in enumerate([("one step per stream", OTHER, [r[1] for r in rows]),
                                                ("step batching", OURS, [r[2] for r in rows])]):
        bars = axis.bar([i + (k - 0.5) * width for i in range(len(rows))], values, width * 0.95, color=colour, label=name)
        label_bars(axis, bars, [f"{v / 1000:.1f}k" for v in values], size=9)
    for i, (_, off, on) in enumerate(rows):
        axis.annotate(f"{on / off:.2f}×", (i, 0), xytext=(0, -26), textcoords="offset points", ha="center",
                      fontsize=8.5, color=OURS, annotation_clip=False)
    axis.set_xticks(range(len(rows)), streams)
    axis.set_ylabel("tokens/s, all streams (higher is better)")
    axis.set_ylim(0, max(max(r[1], r[2]) for r in rows) * 1.22)
    axis.set_title("Text generation (LSTM): concurrent streams" + where)
    axis.legend(loc="upper left", fontsize=9)


def throughput_panel(axis, title, connections, series, p99s):
    """series: [(name, colour, req/s per connection count)], p99s: same order, ms."""
    width = 0.8 / len(series)
    for k, ((name, colour, values), p99) in enumerate(zip(series, p99s)):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(connections))]
        bars = axis.bar(xs, values, width * 0.95, color=colour, label=name)
        label_bars(axis, bars, [f"{v / 1000:.1f}k" for v in values], size=9)
        for bar, latency in zip(bars, p99):
            axis.annotate(f"p99 {latency:g} ms", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                          xytext=(0, -4), textcoords="offset points", rotation=90, ha="center", va="top",
                          fontsize=8.5, color="white" if colour == OURS else "black")
    axis.set_xticks(range(len(connections)), [f"{c} conn." for c in connections])
    axis.set_ylabel("requests/s (higher is better)")
    axis.set_ylim(0, max(max(v) for _, _, v in series) * 1.22)
    axis.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))
    axis.set_title(title)
    axis.legend(loc="upper left", fontsize=9)


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks.png"))
    arguments = parser.parse_args()
    with open(arguments.results, encoding="utf-8") as handle:
        all_sections = sections(handle.read())

    panels = []
    heading, body = find_section(all_sections, "onnxruntime")
    if body:
        if engine_rows(body):
            panels.append(lambda axis, rows=engine_rows(body), where=source(heading): engine_panel(axis, rows, where))
        if gemm_rows(body):
            panels.append(lambda axis, rows=gemm_rows(body), where=source(heading): gemm_panel(axis, rows, where))
    heading, body = find_section(all_sections, "Hummingbird")
    if body and http_rows(body):
        rows = http_rows(body)
        panels.append(lambda axis, rows=rows, where=source(heading): throughput_panel(
            axis, "HTTP server vs Hummingbird (SwiftNIO): trivial route" + where,
            [r[0] for r in rows], [("deepserve", OURS, [r[1] for r in rows]),
                                   ("Hummingbird", OTHER, [r[3] for r in rows])],
            [[r[2] for r in rows], [r[4] for r in rows]]))
    heading, body = find_section(all_sections, "Serving")
    where = source(heading)
    servers = serving_rows(body) if body else {}
    if servers:
        connections = sorted({c for rows in servers.values() for c, *_ in rows})
        colours = {"deepserve-batching": "#8bb8e0", "deepserve-no-batching": OURS, "fastapi+onnxruntime": THIRD}
        names = {"deepserve-batching": "deepserve, batching", "deepserve-no-batching": "deepserve, no batching",
                 "fastapi+onnxruntime": "FastAPI + onnxruntime"}
        series, p99s = [], []
        for server, rows in servers.items():
            by_conns = {c: (rps, p99) for c, rps, _, p99 in rows}
            series.append((names.get(server, server), colours.get(server, OTHER),
                           [by_conns.get(c, (0, 0))[0] for c in connections]))
            p99s.append([by_conns.get(c, (0, 0))[1] for c in connections])
        panels.append(lambda axis: throughput_panel(
            axis, "Serving vs FastAPI: POST a PNG digit to classify" + where, connections, series, p99s))
    trivial = trivial_rows(body) if body else []
    if trivial:
        panels.append(lambda axis: throughput_panel(
            axis, "HTTP server vs nginx: trivial route, no access log" + where, [r[0] for r in trivial],
            [("deepserve", OURS, [r[1] for r in trivial]), ("nginx", OTHER, [r[3] for r in trivial])],
            [[r[2] for r in trivial], [r[4] for r in trivial]]))
    generation = generation_rows(body) if body else []
    if generation:
        panels.append(lambda axis: generation_panel(axis, generation, where))
    if not panels:
        sys.exit(f"plot.py: no tables found in {arguments.results}")

    plt.rcParams.update({"font.size": 10.5, "axes.titlesize": 11.5, "axes.titleweight": "bold",
                         "axes.spines.top": False, "axes.spines.right": False})
    columns = 2 if len(panels) > 1 else 1
    rows = (len(panels) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(12, 4.4 * rows), squeeze=False)
    for panel, axis in zip(panels, axes.flat):
        panel(axis)
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.suptitle("deepserve benchmarks: the figures of bench/RESULTS.md (2 shared cores)", fontsize=13)
    figure.tight_layout(rect=(0, 0, 1, 0.97), h_pad=2.5, w_pad=2)
    os.makedirs(os.path.dirname(arguments.output), exist_ok=True)
    figure.savefig(arguments.output, dpi=110)
    print(f"wrote {os.path.relpath(arguments.output, ROOT)} ({len(panels)} panels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
