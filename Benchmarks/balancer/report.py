"""Turns the balancer benchmark's rows into a table with ratios to HAProxy and puts it into
docs/benchmarks.md between the balancer markers."""
import datetime
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from results_doc import replace_section  # noqa: E402

results, duration, connections, haproxy_version = sys.argv[1:5]
rows = [line.split("\t") for line in pathlib.Path(results).read_text().splitlines() if line]
by_key = {(r[0], r[1], r[2]): r for r in rows}

lines = [
    "<!-- balancer:begin -->",
    "## Load balancer: Zonal against HAProxy",
    "",
    f"`Benchmarks/balancer/run`, {datetime.date.today()}: wrk, 1 thread, {connections} kept-alive connections, "
    f"{duration} per cell after a 5 s warm-up; two `zonal app` backends (release build); {haproxy_version.strip()} "
    "with `nbthread 2` and `http-reuse safe`; everything on this 2-core machine, so the load generator, "
    "the proxy and the backends share the cores.",
    "",
    "| Payload | Mode | Direct req/s | HAProxy req/s | Zonal req/s | Zonal / HAProxy | HAProxy p50 / p99 ms | Zonal p50 / p99 ms | Zonal p99 / HAProxy p99 | Errors (HAProxy, Zonal) |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for payload in ["small", "64k"]:
    direct = by_key.get(("direct", "-", payload))
    for mode in ["http", "tcp"]:
        h = by_key.get(("haproxy", mode, payload))
        z = by_key.get(("zonal", mode, payload))
        if not (h and z):
            continue
        ratio = float(z[3]) / float(h[3]) if float(h[3]) else 0
        p99_ratio = float(z[5]) / float(h[5]) if float(h[5]) else 0
        lines.append(
            f"| {'≈160 B JSON' if payload == 'small' else '64 KiB'} | {mode} | {direct[3] if direct else '-'} | {h[3]} | {z[3]} | "
            f"**{ratio:.2f}x** | {h[4]} / {h[5]} | {z[4]} / {z[5]} | {p99_ratio:.2f}x | {h[6]}, {z[6]} |"
        )
lines += [
    "",
    "Targets (issue #4): Zonal's requests/s at least HAProxy's in both modes and both payloads, p99 at most "
    "1.2x HAProxy's. Ratios below 1.00x mean the target is not met.",
    "<!-- balancer:end -->",
]
section = "\n".join(lines)

replace_section("balancer", section)
print(section)
