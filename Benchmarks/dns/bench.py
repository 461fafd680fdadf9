"""The DNS benchmark; see Benchmarks/dns/run."""
import datetime
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from results_doc import replace_section  # noqa: E402

zonal, duration, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
HOST = "127.0.0.1"
PORTS = {"Zonal": 15300, "Knot": 15301}
HOSTS = 10_000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def zone_text():
    """A zone of 10,000 hosts and the usual apex records, plus one TXT answer near 900 bytes."""
    lines = [
        "$ORIGIN bench.test.", "$TTL 3600",
        "@ IN SOA ns1 hostmaster 2026120101 3600 900 604800 300",
        "@ IN NS ns1", "@ IN NS ns2", "@ IN MX 10 mail", "ns1 IN A 127.0.0.1", "ns2 IN A 127.0.0.2",
        "mail IN A 192.0.2.25", "mail IN AAAA 2001:db8::25", "www IN A 192.0.2.80", "www IN A 192.0.2.81",
        "alias IN CNAME www", 'txt IN TXT "v=spf1 -all"',
        "big IN TXT " + " ".join('"' + c * 250 + '"' for c in "abc") + ' "' + "d" * 100 + '"',
    ]
    lines += [f"host{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(HOSTS)]
    return "\n".join(lines) + "\n"


def queries():
    """The mix: hosts that exist, names that do not, apex types, a CNAME, the big TXT."""
    mix = []
    for i in range(0, HOSTS, 7):
        mix.append(f"host{i}.bench.test A")
        mix.append(f"missing{i}.bench.test A")
        if i % 5 == 0:
            mix += ["bench.test MX", "bench.test NS", "mail.bench.test AAAA", "alias.bench.test A", "txt.bench.test TXT", "big.bench.test TXT"]
    return "\n".join(mix) + "\n"


def cpu_seconds(pid):
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_for(port, work, log):
    deadline = time.time() + 30
    while time.time() < deadline:
        answer = subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{HOST}", "-p", str(port), "mail.bench.test"], capture_output=True, text=True)
        if answer.stdout.strip() == "192.0.2.25":
            return
        time.sleep(0.2)
    sys.exit(f"server on port {port} did not answer; log:\n{pathlib.Path(log).read_text()}")


def start_servers(work):
    zone = work / "bench.zone"
    zone.write_text(zone_text())
    (work / "topology.yaml").write_text(f"""
name: dnsbench
regions: [{{ name: r, zones: [z] }}]
nodes: [{{ name: n, zone: z, address: {HOST} }}]
services:
  - name: dns
    kind: dns
    nodes: [n]
    port: {PORTS['Zonal']}
    dns:
      zones: [{{ name: bench.test, file: {zone} }}]
      max_tcp_connections: 4096
""")
    knot_dir = work / "knot"
    (knot_dir / "db").mkdir(parents=True)
    (knot_dir / "bench.test.zone").write_text(zone_text())
    (work / "knot.conf").write_text(f"""
server:
    rundir: "{knot_dir}"
    listen: {HOST}@{PORTS['Knot']}
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1
database:
    storage: "{knot_dir}/db"
log:
  - target: stderr
    any: warning
zone:
  - domain: bench.test
    storage: "{knot_dir}"
    file: "bench.test.zone"
""")
    env = dict(os.environ, ZONAL_LOG_LEVEL="warning")
    servers = {
        "Zonal": subprocess.Popen([zonal, "dns", "serve", "-f", str(work / "topology.yaml")], stdout=open(work / "zonal.log", "w"), stderr=subprocess.STDOUT, env=env),
        "Knot": subprocess.Popen(["knotd", "-c", str(work / "knot.conf")], stdout=open(work / "knot.log", "w"), stderr=subprocess.STDOUT),
    }
    for name, port in PORTS.items():
        wait_for(port, work, work / ("zonal.log" if name == "Zonal" else "knot.log"))
    return servers


def dnsperf(port, mode, work):
    output = subprocess.run(
        ["dnsperf", "-s", HOST, "-p", str(port), "-m", mode, "-d", str(work / "queries.txt"), "-l", str(duration), "-c", "16", "-T", "1", "-e", "-q", "200"],
        capture_output=True, text=True).stdout

    def number(label):
        found = re.search(label + r":\s+([\d.]+)", output)
        return float(found.group(1)) if found else 0.0
    return {
        "completed": number("Queries completed"), "lost": number("Queries lost"), "qps": number("Queries per second"),
        "latency_ms": number(r"Average Latency \(s\)") * 1000, "stddev_ms": number(r"Latency StdDev \(s\)") * 1000,
    }


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="zonal-bench-dns."))
    (work / "queries.txt").write_text(queries())
    servers = start_servers(work)
    results = {}
    try:
        for _ in range(rounds):
            for mode in ["udp", "tcp"]:
                for name, port in PORTS.items():
                    before = cpu_seconds(servers[name].pid)
                    run = dnsperf(port, mode, work)
                    run["cpu_us_per_query"] = (cpu_seconds(servers[name].pid) - before) / max(run["completed"], 1) * 1e6
                    results.setdefault((mode, name), []).append(run)
                    print(f"{mode} {name}: {run}", file=sys.stderr)
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
        for process in servers.values():
            process.wait(timeout=20)
    write_doc(results)


def mean(runs, key):
    return sum(run[key] for run in runs) / len(runs)


def write_doc(results):
    rows = []
    for mode in ["udp", "tcp"]:
        zonal_runs, knot_runs = results[(mode, "Zonal")], results[(mode, "Knot")]
        for name, runs in [("Knot DNS 3.2", knot_runs), ("Zonal", zonal_runs)]:
            qps, cpu = mean(runs, "qps"), mean(runs, "cpu_us_per_query")
            ratio = f"{qps / mean(knot_runs, 'qps'):.2f}x" if name == "Zonal" else "1.00x"
            cpu_ratio = f"{cpu / mean(knot_runs, 'cpu_us_per_query'):.2f}x" if name == "Zonal" else "1.00x"
            lost = sum(run["lost"] for run in runs)
            rows.append(f"| {mode.upper()} | {name} | {qps:,.0f} | {ratio} | {mean(runs, 'latency_ms'):.3f} ± {mean(runs, 'stddev_ms'):.3f} | {cpu:.1f} | {cpu_ratio} | {lost:.0f} |")
    today = datetime.date.today().isoformat()
    section = f"""<!-- dns:begin -->
## DNS: Zonal against Knot DNS

`Benchmarks/dns/run` ({today}, this machine, {rounds} rounds of {duration} s each, interleaved, means shown): dnsperf 2.10
(`-c 16 -T 1 -e -q 200`) against Zonal's `zonal dns serve` (release build, one UDP socket per core) and Knot DNS
3.2 (`udp-workers: 2`, `tcp-workers: 2`) serving the same zone file: {HOSTS:,} host records plus apex MX and NS,
a CNAME, TXT and one TXT answer of about 900 bytes. The query mix is half existing hosts, half NXDOMAIN, with the
apex types, the CNAME and the big TXT sprinkled in. CPU is the server's user and system time per completed query
(from /proc), so it counts what the server spends, not dnsperf, which shares the two cores.

| transport | server | queries/s | ratio to Knot | latency ms (mean ± sd) | CPU µs/query | CPU ratio | lost |
| --- | --- | --- | --- | --- | --- | --- | --- |
""" + "\n".join(rows) + "\n<!-- dns:end -->"
    replace_section("dns", section)
    print(section)


main()
