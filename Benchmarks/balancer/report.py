"""Turns the balancer benchmark's rows into a table with ratios to HAProxy and puts it into
docs/benchmarks.md between the balancer markers."""
import datetime
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from results_doc import replace_section  # noqa: E402

results, duration, haproxy_version = sys.argv[1:4]
rows = [line.split("\t") for line in pathlib.Path(results).read_text().splitlines() if line]
by_key = {(r[0], r[1]): r for r in rows}
cells = []
for row in rows:
    if row[0] != "direct" and row[1] not in cells:
        cells.append(row[1])

LABELS = {"small": "≈160 B JSON", "64k": "64 KiB"}
lines = [
    "<!-- balancer:begin -->",
    "## Load balancer: Zonal against HAProxy",
    "",
    f"`Benchmarks/balancer/run`, {datetime.date.today()}: wrk with 32 kept-alive connections on 1 thread (c32) and 64 on "
    f"2 threads (c64), {duration} per cell after a 3 s warm-up; HTTPS with TLS 1.3 (wrk, c32); HTTP/2 in cleartext with "
    "prior knowledge (h2load, 32 connections, 10 streams each, c32; its latency columns are the mean and the maximum, "
    f"h2load gives no percentiles); two `zonal app` backends (release build); {haproxy_version.strip()} with `nbthread 2` "
    "and `http-reuse safe`; everything on this 2-core machine, so the load generator, the proxy and the backends share "
    "the cores.",
    "",
    "| Cell | Direct req/s | HAProxy req/s | Zonal req/s | Zonal / HAProxy | HAProxy p50 / p99 ms | Zonal p50 / p99 ms | Zonal p99 / HAProxy p99 | Errors (HAProxy, Zonal) |",
    "|---|---|---|---|---|---|---|---|---|",
]
for cell in cells:
    mode, payload, shape = cell.split(" ")
    h = by_key.get(("haproxy", cell))
    z = by_key.get(("zonal", cell))
    if not (h and z):
        continue
    direct = by_key.get(("direct", f"direct {payload} {shape}"))
    ratio = float(z[2]) / float(h[2]) if float(h[2]) else 0
    p99_ratio = float(z[4]) / float(h[4]) if float(h[4]) else 0
    lines.append(
        f"| {mode}, {LABELS[payload]}, {shape} | {direct[2] if direct else '-'} | {h[2]} | {z[2]} | **{ratio:.2f}x** | "
        f"{h[3]} / {h[4]} | {z[3]} / {z[4]} | {p99_ratio:.2f}x | {h[5]}, {z[5]} |"
    )
lines += [
    "",
    "Targets (issue #18): Zonal's requests/s at least HAProxy's in every HTTP/1.1 and TCP cell, p99 at most 1.2x "
    "HAProxy's. Ratios below 1.00x mean the target is not met.",
    "<!-- balancer:end -->",
]
section = "\n".join(lines)

replace_section("balancer", section)
print(section)
