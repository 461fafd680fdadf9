"""The replication lag benchmark; see Benchmarks/objects/replication-lag."""
import concurrent.futures
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from processes import start, stop_all, wait_until  # noqa: E402
from results_doc import replace_section  # noqa: E402

ZONAL = sys.argv[1]
EAST = {"n1": "127.0.81.1", "n2": "127.0.82.1", "n3": "127.0.83.1"}
WEST, COORDINATOR = "127.0.84.1", "127.0.85.1"
SMALL, LARGE, BURST = (40, 4096), (5, 16 << 20), (200, 256 << 10)


class Stores:
    """East (three zones) and west (one node), each with one front end; east's bucket `lag`
    replicated to west by a rule of the topology."""

    def __init__(self, work):
        self.work = work
        token = work / "admin-token"
        token.write_text(os.urandom(16).hex())
        os.chmod(token, 0o600)
        self.topology = work / "topology.yaml"
        self.topology.write_text(f"""name: replicationbench
coordinator: {{ backend: embedded, host: {COORDINATOR}, port: 7379 }}
regions:
  - {{ name: east, zones: [z1, z2, z3] }}
  - {{ name: west, zones: [w1] }}
nodes:
{chr(10).join(f"  - {{ name: {name}, zone: z{name[1]}, address: {address} }}" for name, address in EAST.items())}
  - {{ name: w1, zone: w1, address: {WEST} }}
services:
  - name: objects
    kind: object-store
    nodes: [n1, n2, n3]
    port: 9100
    admin_port: 9101
    objects: {{ replication: [{{ name: lag, bucket: lag, to_store: objects-west }}] }}
  - {{ name: s3, kind: s3, nodes: [n1], port: 9200, admin_port: 9201, s3: {{ store: objects }} }}
  - {{ name: objects-west, kind: object-store, nodes: [w1], port: 9100, admin_port: 9101, objects: {{ replicas: 1, write_quorum: 1 }} }}
  - {{ name: s3-west, kind: s3, nodes: [w1], port: 9200, admin_port: 9201, s3: {{ store: objects-west }} }}
""")
        env = {"ZONAL_TOKEN_FILE": str(token)}
        state = str(work / "state")
        start([ZONAL, "coordinator", "serve", "--host", COORDINATOR, "--port", "7379", "--data-dir", str(work / "coordinator"), "--token-file", str(token)],
              work / "coordinator.log")
        for name in [*EAST, "w1"]:
            store = "objects-west" if name == "w1" else "objects"
            start([ZONAL, "objects", "node", "--topology", str(self.topology), "--service", store, "--node", name, "--state-dir", state],
                  work / f"node-{name}.log", env)
        start([ZONAL, "objects", "s3", "--topology", str(self.topology), "--service", "s3", "--node", "n1", "--state-dir", state], work / "s3.log", env)
        start([ZONAL, "objects", "s3", "--topology", str(self.topology), "--service", "s3-west", "--node", "w1", "--state-dir", state],
              work / "s3-west.log", env)
        self.east = self.client(f"http://{EAST['n1']}:9200", "east", "objects")
        self.west = self.client(f"http://{WEST}:9200", "west", "objects-west")

    def client(self, endpoint, region, store):
        def answers():
            try:
                urllib.request.urlopen(endpoint, timeout=1)
            except urllib.error.HTTPError:
                return True
            return False

        assert wait_until(lambda: (self.work / f"state/{store}/s3.secret").exists() and answers()), f"{endpoint} did not start"
        exports = subprocess.run([ZONAL, "objects", "credentials", "--service", store, "--topology", str(self.topology), "--state-dir", str(self.work / "state")],
                                 check=True, capture_output=True, text=True).stdout
        keys = dict(line.removeprefix("export ").split("=", 1) for line in exports.splitlines() if line.startswith("export "))
        return boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"], config=Config(max_pool_connections=16, retries={"max_attempts": 1}))


def present(s3, key, version=None):
    try:
        s3.head_object(Bucket="lag", Key=key, **({"VersionId": version} if version else {}))
        return True
    except ClientError:
        return False


def lag(stores, label, count, size):
    """Seconds from each PUT's acknowledgement in east to its version in west, one at a time;
    and the seconds the same PUT takes written into west directly."""
    delays, direct = [], []
    for index in range(count):
        body = os.urandom(size)
        key = f"{label}/{index}"
        stores.east.put_object(Bucket="lag", Key=key, Body=body)
        acknowledged = time.monotonic()
        assert wait_until(lambda: present(stores.west, key), timeout=120), f"{key} never reached west"
        delays.append(time.monotonic() - acknowledged)
        started = time.monotonic()
        stores.west.put_object(Bucket="direct", Key=key, Body=body)
        direct.append(time.monotonic() - started)
    return delays, direct


def drain(stores, count, size):
    """MB/s of a burst written into east, MB/s from its first write to the last of it readable
    in west, the seconds west trailed east's last acknowledgement, and the same burst written
    into west directly with the same clients."""
    bodies = [os.urandom(size) for _ in range(count)]

    def burst(s3, bucket):
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda index: s3.put_object(Bucket=bucket, Key=f"burst/{index}", Body=bodies[index]), range(count)))

    started = time.monotonic()
    burst(stores.east, "lag")
    written = time.monotonic()
    assert wait_until(lambda: all(present(stores.west, f"burst/{index}") for index in range(count - 1, -1, -1)), timeout=300), "the burst never drained"
    arrived = time.monotonic()
    source, replicated = count * size / (written - started) / 1e6, count * size / (arrived - started) / 1e6
    started = time.monotonic()
    burst(stores.west, "direct")
    return source, replicated, arrived - written, count * size / (time.monotonic() - started) / 1e6


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="zonal-replication-bench-"))
    try:
        stores = Stores(work)
        stores.east.create_bucket(Bucket="lag")
        stores.west.create_bucket(Bucket="direct")
        rows = []
        for label, (count, size) in [("4 KiB", SMALL), ("16 MiB", LARGE)]:
            delays, direct = lag(stores, label.replace(" ", ""), count, size)
            rows.append(f"| {label}, one at a time ({count}) | {percentile(delays, 0.5) * 1000:.0f} ms | {percentile(delays, 0.99) * 1000:.0f} ms | "
                        f"{max(delays) * 1000:.0f} ms | {percentile(direct, 0.5) * 1000:.0f} ms |")
        source, replicated, trail, direct = drain(stores, *BURST)
        section = "\n".join([
            "<!-- replication:begin -->",
            "### Cross-region replication lag (`Benchmarks/objects/replication-lag`)",
            "",
            "East (three zones, one front end) replicating a bucket to west (one node), one machine, release build. Lag: from the",
            "acknowledgement of a PUT in east to the version being readable in west. The peer is the destination written directly in the",
            "same run: a copy cannot take less than one PUT there.",
            "",
            "| Writes | Lag p50 | Lag p99 | Lag max | Direct PUT into west, p50 |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"A burst of {BURST[0]} × 256 KiB written into east by 8 clients ({source:.1f} MB/s, three replicas) is all in west at {replicated:.1f} MB/s from its",
            f"first write to its last arrival ({replicated / source:.2f}x the source's own rate; west trailed east's last acknowledgement by {trail:.2f} s); the same",
            f"burst written into west directly: {direct:.1f} MB/s.",
            "<!-- replication:end -->",
        ])
        replace_section("replication", section)
        print(section)
    finally:
        stop_all()


main()
