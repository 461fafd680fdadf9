"""The cache benchmark; see Benchmarks/cache/run."""
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import redis

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from processes import start, stop, stop_all, wait_until  # noqa: E402
from results_doc import replace_section  # noqa: E402

ZONAL, REQUESTS, FAILOVERS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
NODES = {"a1": "127.0.60.1", "b1": "127.0.61.1"}
PROXY, TWEMPROXY = "127.0.62.1", "127.0.63.1"
class ZonalCache:
    def __init__(self, work):
        self.work = work
        self.token = work / "admin-token"
        self.token.write_text(os.urandom(16).hex())
        os.chmod(self.token, 0o600)
        self.topology = work / "topology.yaml"
        self.topology.write_text(f"""name: cachebench
coordinator: {{ backend: embedded, host: 127.0.64.1, port: 7379 }}
regions:
  - {{ name: east, zones: [z0, z1, zp] }}
nodes:
  - {{ name: a1, zone: z0, address: {NODES['a1']} }}
  - {{ name: b1, zone: z1, address: {NODES['b1']} }}
  - {{ name: p1, zone: zp, address: {PROXY} }}
services:
  - {{ name: cache, kind: redis, nodes: [a1, b1], port: 6379, admin_port: 6400 }}
  - {{ name: cache-proxy, kind: redis-proxy, nodes: [p1], port: 6390, proxy: {{ cache: cache }} }}
""")
        self.env = {"ZONAL_TOKEN_FILE": str(self.token)}
        self.coordinator = start([ZONAL, "coordinator", "serve", "--host", "127.0.64.1", "--port", "7379", "--data-dir", str(work / "coordinator"),
                                  "--token-file", str(self.token)], work / "coordinator.log")
        self.agents = {name: self.agent(name) for name in NODES}
        assert wait_until(lambda: (work / "state/cache/redis.password").exists()), "no password"
        self.password = (work / "state/cache/redis.password").read_text().strip()
        assert self.master(), "no master"
        self.proxy = start([ZONAL, "cache", "proxy", "--topology", str(self.topology), "--state-dir", str(work / "state")], work / "proxy.log", self.env)
        assert wait_until(lambda: redis.Redis(host=PROXY, port=6390, password=self.password).ping())

    def agent(self, name):
        return start([ZONAL, "cache", "agent", "--topology", str(self.topology), "--node", name, "--state-dir", str(self.work / "state")],
                     self.work / f"agent-{name}-{time.time()}.log", self.env)

    def role(self, name, path):
        try:
            return urllib.request.urlopen(f"http://{NODES[name]}:6400/{path}", timeout=1).status == 200
        except Exception:
            return False

    def master(self, timeout=30):
        found = []
        wait_until(lambda: found.append(next(name for name in NODES if self.role(name, "master"))) or True, timeout)
        return found[0] if found else None

    def close(self):
        for process in [self.proxy, *self.agents.values(), self.coordinator]:
            stop(process)


def benchmark(host, port, password, pipeline):
    args = ["redis-benchmark", "-h", host, "-p", str(port), "-c", "50", "-n", str(REQUESTS), "-t", "set,get", "--csv", "-r", "100000"]
    if password:
        args += ["-a", password]
    if pipeline > 1:
        args += ["-P", str(pipeline)]
    output = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "REDISCLI_AUTH": password or ""}).stdout
    results = {}
    for line in output.splitlines():
        cells = [cell.strip('"') for cell in line.split(",")]
        if cells and cells[0] in ("SET", "GET"):
            results[cells[0]] = {"rps": float(cells[1]), "p50": float(cells[5])}
    return results


def throughput(cache, work):
    master = NODES[cache.master()]
    config = work / "nutcracker.yml"
    config.write_text(f"""cache:
  listen: {TWEMPROXY}:6391
  hash: fnv1a_64
  distribution: ketama
  redis: true
  redis_auth: {cache.password}
  servers:
    - {master}:6379:1
""")
    twemproxy = start(["/usr/sbin/nutcracker", "-c", str(config)], work / "nutcracker.log")
    wait_until(lambda: redis.Redis(host=TWEMPROXY, port=6391, password=cache.password).ping())
    table = {}
    for pipeline in (1, 16):
        for label, host, port in (("direct", master, 6379), ("twemproxy", TWEMPROXY, 6391), ("zonal", PROXY, 6390)):
            table[(label, pipeline)] = benchmark(host, port, cache.password, pipeline)
            print(label, pipeline, table[(label, pipeline)], flush=True)
    stop(twemproxy)
    return table


def writer(connect, seconds, kill):
    """Writes w<i> for `seconds`, calling `kill` after 2 s; returns RTO, lost and failed writes."""
    client = connect()
    acked, failed, i, killed_at = [], 0, 0, None
    start_time = time.time()
    while time.time() - start_time < seconds:
        i += 1
        if killed_at is None and time.time() - start_time > 2:
            kill()
            killed_at = time.time()
        try:
            client.set(f"w{i}", i)
            acked.append((i, time.time()))
        except Exception:
            failed += 1
            time.sleep(0.01)
            try:
                client = connect()
            except Exception:
                pass
        time.sleep(0.002)
    # The outage ends with the first acknowledgement after a gap: a write can still land on the
    # old master in the milliseconds its process takes to die after the kill.
    times = [t for _, t in acked]
    ends = [later for earlier, later in zip(times, times[1:]) if later > killed_at and later - earlier > 0.05]
    rto = (ends[0] - killed_at) if ends else None
    wait_until(lambda: connect().set("probe", 1), 60)  # Sentinel may still be choosing a master
    check = connect()
    lost = sum(1 for n, _ in acked if check.get(f"w{n}") is None)
    return rto, lost, failed


def zonal_failovers(cache):
    runs = []
    for _ in range(FAILOVERS):
        master = cache.master()
        other = next(name for name in NODES if name != master)
        assert wait_until(lambda: cache.role(other, "replica"))
        client = lambda: redis.Redis(host=PROXY, port=6390, password=cache.password, socket_timeout=5)
        client().flushall()
        rto, lost, failed = writer(client, 6, lambda: cache.agents[master].kill())
        runs.append({"rto": rto, "lost": lost, "failed": failed})
        print("zonal failover", runs[-1], flush=True)
        cache.agents[master] = cache.agent(master)
        wait_until(lambda: cache.role(master, "replica"))
    return runs


def sentinel_failovers(work, down_after, runs_wanted):
    runs = []
    password = "sentinelbench"
    servers = {}
    for name, host in NODES.items():
        data = work / f"sentinel-redis-{name}-{down_after}"
        data.mkdir()
        args = ["redis-server", "--bind", host, "--port", "6479", "--dir", str(data), "--appendonly", "yes", "--requirepass", password, "--masterauth", password,
                "--save", "", "--replica-announce-ip", host]
        if name == "b1":
            args += ["--replicaof", NODES["a1"], "6479"]
        servers[name] = start(args, data / "log")
    sentinels = []
    for index in range(3):
        config = work / f"sentinel-{down_after}-{index}.conf"
        config.write_text(f"port {26479 + index}\nbind 127.0.65.{index + 1}\nsentinel announce-ip 127.0.65.{index + 1}\nsentinel monitor cache {NODES['a1']} 6479 2\n"
                          f"sentinel auth-pass cache {password}\nsentinel down-after-milliseconds cache {down_after}\nsentinel failover-timeout cache 10000\n")
        sentinels.append(start(["redis-sentinel", str(config)], work / f"sentinel-{down_after}-{index}.log"))
    from redis.sentinel import Sentinel
    sentinel = Sentinel([(f"127.0.65.{i + 1}", 26479 + i) for i in range(3)], socket_timeout=1)
    # A failover needs a majority of sentinels that know each other (they meet through hello
    # messages every 2 s).
    known = lambda: all(redis.Redis(host=f"127.0.65.{i + 1}", port=26479 + i).sentinel_master("cache")["num-other-sentinels"] == 2 for i in range(3))
    assert wait_until(known, 60), "the sentinels did not find each other"
    for _ in range(runs_wanted):
        assert wait_until(lambda: sentinel.discover_slaves("cache"), 60)
        host, _ = sentinel.discover_master("cache")
        master = next(name for name, address in NODES.items() if address == host)
        client = lambda: sentinel.master_for("cache", password=password, socket_timeout=5)
        client().flushall()
        rto, lost, failed = writer(client, 8 + down_after / 1000 * 2, lambda: servers[master].kill())
        runs.append({"rto": rto, "lost": lost, "failed": failed})
        print("sentinel", down_after, runs[-1], flush=True)
        data = work / f"sentinel-redis-{master}-{down_after}"
        servers[master] = start(["redis-server", "--bind", NODES[master], "--port", "6479", "--dir", str(data), "--appendonly", "yes", "--requirepass", password,
                                 "--masterauth", password, "--save", "", "--replica-announce-ip", NODES[master], "--replicaof", sentinel.discover_master("cache")[0], "6479"], data / "log2")
    for process in [*sentinels, *servers.values()]:
        stop(process)
    return runs


def median(runs, key):
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else float("nan")


def write_doc(table, zonal, tuned, default):
    date = time.strftime("%Y-%m-%d")
    lines = [
        "<!-- cache:begin -->",
        "## Cache: the Zonal RESP proxy against twemproxy and direct Redis; failover against Redis Sentinel",
        "",
        f"Measured {date} on this machine by `Benchmarks/cache/run` (Redis 7.0, nutcracker 0.5, release build, redis-benchmark 50 clients,",
        f"{REQUESTS} requests per cell, random keys). Ratios are against nutcracker and against direct Redis in the same run.",
        "",
        "| command | pipeline | direct req/s | twemproxy req/s | Zonal req/s | Zonal / twemproxy | Zonal / direct | p50 direct / twemproxy / Zonal (ms) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for pipeline in (1, 16):
        for command in ("SET", "GET"):
            d, t, z = (table[(label, pipeline)].get(command, {"rps": float("nan"), "p50": float("nan")}) for label in ("direct", "twemproxy", "zonal"))
            lines.append(f"| {command} | {pipeline} | {d['rps']:.0f} | {t['rps']:.0f} | {z['rps']:.0f} | {z['rps'] / t['rps']:.2f}x | {z['rps'] / d['rps']:.2f}x | "
                         f"{d['p50']:.3f} / {t['p50']:.3f} / {z['p50']:.3f} |")
    lines += [
        "",
        "Failover under a writer (one `SET` at a time, every acknowledged write logged; RTO is kill -9 to the first write acknowledged",
        "by the new master, lost counts acknowledged writes missing afterwards):",
        "",
        "| setup | runs | RTO median (s) | RTO max (s) | lost writes (total) | failed writes (total) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, runs in (("Zonal, defaults (ttl 1 s), through the proxy", zonal), ("Sentinel, down-after-milliseconds 1000", tuned),
                        ("Sentinel, defaults (30 s)", default)):
        if not runs:
            continue
        worst = max((run["rto"] for run in runs if run["rto"] is not None), default=float("nan"))
        lines.append(f"| {label} | {len(runs)} | {median(runs, 'rto'):.2f} | {worst:.2f} | {sum(r['lost'] for r in runs)} | {sum(r['failed'] for r in runs)} |")
    lines.append("<!-- cache:end -->")
    replace_section("cache", "\n".join(lines))


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="zonal-cache-bench-"))
    try:
        cache = ZonalCache(work)
        table = throughput(cache, work)
        zonal = zonal_failovers(cache)
        cache.close()
        tuned = sentinel_failovers(work, 1000, FAILOVERS)
        default = sentinel_failovers(work, 30000, 1)
        write_doc(table, zonal, tuned, default)
    finally:
        stop_all()


main()
