"""Zone failover under load, as a client sees it. See Benchmarks/balancer/failover."""
import datetime
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from results_doc import replace_section  # noqa: E402
import tempfile
import threading
import time

zonal, runs = sys.argv[1], int(sys.argv[2])

TOPOLOGY = """
name: failover-bench
coordinator: {{ backend: embedded, host: 127.0.0.1, port: 17479 }}
supervisor: {{ control_port: 17400, state_dir: {state} }}
regions: [{{ name: east, zones: [east-a, east-b, east-c] }}]
nodes:
  - {{ name: a1, zone: east-a, address: 127.0.41.1 }}
  - {{ name: a2, zone: east-a, address: 127.0.41.2 }}
  - {{ name: b1, zone: east-b, address: 127.0.42.1 }}
  - {{ name: c1, zone: east-c, address: 127.0.43.1 }}
services:
  - name: web
    kind: app
    zones: [east-a, east-b]
    port: 8080
    primary_zone: east-a
    secondary_zone: east-b
  - name: lb
    kind: balancer
    nodes: [c1]
    port: 8000
    admin_port: 9000
    balancer:
      pools: [{{ name: web, service: web }}]
"""


class Load:
    """Client threads sending GETs on kept-alive connections until stopped; every answer is
    recorded with its time and zone, every failure with its time and reason."""

    def __init__(self, workers=4, limit_seconds=120):
        self.answers, self.failures = [], []
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.deadline = time.monotonic() + limit_seconds
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def work(self):
        connection = http.client.HTTPConnection("127.0.43.1", 8000, timeout=10)
        while not self.stopped.is_set() and time.monotonic() < self.deadline:
            try:
                connection.request("GET", "/")
                response = connection.getresponse()
                body = response.read()
                zone = json.loads(body).get("zone", "?") if response.status == 200 else None
                with self.lock:
                    if zone:
                        self.answers.append((time.monotonic(), zone))
                    else:
                        self.failures.append((time.monotonic(), f"status {response.status}"))
            except Exception as error:  # a failure the client sees
                with self.lock:
                    self.failures.append((time.monotonic(), repr(error)))
                connection.close()
                connection = http.client.HTTPConnection("127.0.43.1", 8000, timeout=10)

    def first_answer(self, zone, after):
        with self.lock:
            return next((t for t, z in self.answers if z == zone and t >= after), None)

    def stop(self):
        self.stopped.set()
        for thread in self.threads:
            thread.join()


def zonal_command(topology, *arguments):
    subprocess.run([zonal, *arguments, "-f", topology], check=True, capture_output=True)


def wait_for(condition, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return False


results = []
for run in range(runs):
    with tempfile.TemporaryDirectory(prefix="zonal-failover-") as work:
        topology = os.path.join(work, "topology.yaml")
        pathlib.Path(topology).write_text(TOPOLOGY.format(state=os.path.join(work, "state")))
        output = open(os.path.join(work, "up.out"), "w")
        up = subprocess.Popen([zonal, "up", topology], stdout=output, stderr=subprocess.STDOUT)
        try:
            if not wait_for(lambda: "is up:" in pathlib.Path(output.name).read_text(), 60):
                sys.exit("zonal up did not come up:\n" + pathlib.Path(output.name).read_text())
            load = Load()
            time.sleep(3)
            killed = time.monotonic()
            zonal_command(topology, "fail", "zone", "east-a")
            wait_for(lambda: load.first_answer("east-b", killed) is not None, 30)
            time.sleep(3)
            recovered = time.monotonic()
            zonal_command(topology, "recover", "zone", "east-a")
            wait_for(lambda: load.first_answer("east-a", recovered) is not None, 60)
            time.sleep(1)
            load.stop()
            on_secondary = load.first_answer("east-b", killed)
            back = load.first_answer("east-a", recovered)
            results.append({
                "requests": len(load.answers) + len(load.failures),
                "failed": len(load.failures),
                "failover": (on_secondary - killed) if on_secondary else None,
                "failback": (back - recovered) if back else None,
                "reasons": sorted({reason for _, reason in load.failures})[:3],
            })
            print(f"run {run + 1}: {results[-1]}", file=sys.stderr)
        finally:
            up.terminate()
            up.wait(timeout=30)


def describe(values, unit=" s"):
    values = [v for v in values if v is not None]
    if not values:
        return "never"
    return f"median {statistics.median(values):.3f}{unit}, max {max(values):.3f}{unit}"


total = sum(r["requests"] for r in results)
failed = sum(r["failed"] for r in results)
section = "\n".join([
    "<!-- failover:begin -->",
    "## Load balancer: zone failover under load",
    "",
    f"`Benchmarks/balancer/failover`, {datetime.date.today()}, {runs} runs: `zonal up` with default settings "
    "(checks every 1 s, fall 2, rise 2, failback hold-down 5 s), two servers in the primary zone, one in the "
    "secondary; four clients on kept-alive connections; `zonal fail zone east-a` (kill -9 of both primary "
    "servers), then `zonal recover zone east-a`.",
    "",
    "| Measure | Result | Target |",
    "|---|---|---|",
    f"| Failed requests seen by clients | {failed} of {total} | 0 |",
    f"| Kill to first answer from the secondary zone | {describe([r['failover'] for r in results])} | within 1 s |",
    f"| Recover command to first answer from the primary zone again (restart, `rise`, hold-down) | {describe([r['failback'] for r in results])} | fails back |",
    "<!-- failover:end -->",
])
replace_section("failover", section)
print(section)
if failed:
    print("failures:", [r["reasons"] for r in results], file=sys.stderr)
