"""The object store benchmark; see Benchmarks/objects/run."""
import concurrent.futures
import hashlib
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from processes import start, stop, stop_all, wait_until  # noqa: E402
from results_doc import replace_section  # noqa: E402

ZONAL, MOTO, SCALE = sys.argv[1], sys.argv[2], int(sys.argv[3])
NODES = {"n1": "127.0.71.1", "n2": "127.0.72.1", "n3": "127.0.73.1"}
COORDINATOR, MOTO_HOST = "127.0.74.1", "127.0.75.1"
# (label, size, operations, concurrent clients)
SIZES = [("4 KiB", 4096, 1500 * SCALE, 16), ("1 MiB", 1 << 20, 150 * SCALE, 4), ("64 MiB", 64 << 20, 6 * SCALE, 1)]


def disk_limits(directory):
    """The disk's own figures in the directory the store writes to."""
    big = directory / "sequential"
    chunk = os.urandom(1 << 20)
    started = time.perf_counter()
    with open(big, "wb") as file:
        for _ in range(256):
            file.write(chunk)
        file.flush()
        os.fsync(file.fileno())
    write = 256 / (time.perf_counter() - started)
    small = directory / "small"
    small.mkdir()
    block = os.urandom(4096)
    descriptor = os.open(small, os.O_RDONLY)
    started = time.perf_counter()
    for index in range(300):
        temporary = small / f"tmp{index}"
        with open(temporary, "wb") as file:
            file.write(block)
            file.flush()
            os.fsync(file.fileno())
        os.rename(temporary, small / f"f{index}")
        os.fsync(descriptor)
    files = 300 / (time.perf_counter() - started)
    os.close(descriptor)
    started = time.perf_counter()
    subprocess.run(["dd", f"if={big}", "of=/dev/null", "bs=1M", "iflag=direct"], check=True, capture_output=True)
    read = 256 / (time.perf_counter() - started)
    big.unlink()
    shutil.rmtree(small)
    return write, files, read


class ZonalStore:
    def __init__(self, work):
        self.work = work
        token = work / "admin-token"
        token.write_text(os.urandom(16).hex())
        os.chmod(token, 0o600)
        topology = work / "topology.yaml"
        topology.write_text(f"""name: objectsbench
coordinator: {{ backend: embedded, host: {COORDINATOR}, port: 7379 }}
regions:
  - {{ name: east, zones: [z1, z2, z3] }}
nodes:
{chr(10).join(f"  - {{ name: {name}, zone: z{name[1]}, address: {address} }}" for name, address in NODES.items())}
services:
  - {{ name: objects, kind: object-store, nodes: [n1, n2, n3], port: 9100, admin_port: 9101 }}
  - {{ name: s3, kind: s3, nodes: [n1], port: 9200 }}
""".replace("port: 9200 }", "port: 9200, s3: { store: objects } }"))
        env = {"ZONAL_TOKEN_FILE": str(token)}
        start([ZONAL, "coordinator", "serve", "--host", COORDINATOR, "--port", "7379", "--data-dir", str(work / "coordinator"), "--token-file", str(token)],
              work / "coordinator.log")
        for name in NODES:
            start([ZONAL, "objects", "node", "--topology", str(topology), "--node", name, "--state-dir", str(work / "state")], work / f"node-{name}.log", env)
        start([ZONAL, "objects", "s3", "--topology", str(topology), "--node", "n1", "--state-dir", str(work / "state")], work / "s3.log", env)
        self.endpoint = f"http://{NODES['n1']}:9200"
        assert wait_until(lambda: (work / "state/objects/s3.secret").exists() and self.answers()), "the front end did not start"
        credentials = subprocess.run([ZONAL, "objects", "credentials", "--topology", str(topology), "--state-dir", str(work / "state")],
                                     check=True, capture_output=True, text=True).stdout
        self.keys = dict(line.removeprefix("export ").split("=", 1) for line in credentials.splitlines() if line.startswith("export "))

    def answers(self):
        try:
            urllib.request.urlopen(self.endpoint, timeout=1)
        except urllib.error.HTTPError:
            return True
        return False

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="east", aws_access_key_id=self.keys["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.keys["AWS_SECRET_ACCESS_KEY"], config=Config(max_pool_connections=32, retries={"max_attempts": 1}))


class Moto:
    def __init__(self, work):
        start([MOTO, "-H", MOTO_HOST, "-p", "5000"], work / "moto.log")
        self.endpoint = f"http://{MOTO_HOST}:5000"
        assert wait_until(lambda: urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)), "moto did not start"

    def client(self):
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench",
                            config=Config(max_pool_connections=32, retries={"max_attempts": 1}))


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(store, bucket):
    """PUT then GET of every size: ops/s, MB/s, p50 and p99 in ms."""
    client = store.client()
    client.create_bucket(Bucket=bucket)
    results = {}
    for label, size, operations, concurrency in SIZES:
        body = os.urandom(size)
        digest = hashlib.md5(body).hexdigest()

        def put(index):
            started = time.perf_counter()
            answer = client.put_object(Bucket=bucket, Key=f"{label}/{index}", Body=body)
            assert answer["ETag"].strip('"') == digest
            return time.perf_counter() - started

        def get(index):
            started = time.perf_counter()
            data = client.get_object(Bucket=bucket, Key=f"{label}/{index}")["Body"].read()
            assert len(data) == size
            return time.perf_counter() - started

        for name, call in (("PUT", put), ("GET", get)):
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                latencies = list(pool.map(call, range(operations)))
            elapsed = time.perf_counter() - started
            results[(label, name)] = (operations / elapsed, operations * size / elapsed / (1 << 20), percentile(latencies, 0.5) * 1000,
                                      percentile(latencies, 0.99) * 1000)
    return results


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="zonal-objects-bench-", dir="/var/tmp"))
    try:
        write, files, read = disk_limits(work)
        zonal = measure(ZonalStore(work), "bench")
        moto = measure(Moto(work), "bench")
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    for label, _, operations, concurrency in SIZES:
        for name in ("PUT", "GET"):
            z, m = zonal[(label, name)], moto[(label, name)]
            rows.append(f"| {name} {label} ({operations} × {concurrency} clients) | {z[0]:.0f} ops/s, {z[1]:.1f} MB/s | {z[2]:.1f} / {z[3]:.1f} ms "
                        f"| {m[0]:.0f} ops/s, {m[1]:.1f} MB/s | {m[2]:.1f} / {m[3]:.1f} ms | {z[0] / m[0]:.2f}x |")
    put64, get64, put4 = zonal[("64 MiB", "PUT")][1], zonal[("64 MiB", "GET")][1], zonal[("4 KiB", "PUT")][0]
    section = "\n".join([
        "<!-- objects:begin -->",
        "## Object storage: a three-zone store against the disk and moto",
        "",
        f"`Benchmarks/objects/run` ({time.strftime('%Y-%m-%d')}, this 2-core machine, release build): three storage nodes and one S3 front end on "
        "loopback, all on one disk; a boto3 client in the same machine with the given number of threads; moto's server (in memory, one "
        "copy) as the functional peer.",
        "",
        f"The disk's own limits in the same directory: sequential write with fsync **{write:.0f} MB/s**, 4 KiB files written with "
        f"fsync, rename and directory fsync **{files:.0f}/s**, direct read **{read:.0f} MB/s**.",
        "",
        "| Operation | Zonal | Zonal p50 / p99 | moto | moto p50 / p99 | Zonal / moto |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        "Targets of the store, against the disk measured in the same run:",
        "",
        f"- 64 MiB PUT at least 70% of the disk's write rate divided by the 3 replicas ({0.7 * write / 3:.0f} MB/s): "
        f"**{put64:.0f} MB/s, {put64 / (write / 3):.0%} of it** — {'met' if put64 >= 0.7 * write / 3 else 'not met'}.",
        f"- 4 KiB PUT at least 300/s: **{put4:.0f}/s** — {'met' if put4 >= 300 else 'not met'}.",
        f"- 64 MiB GET at least 80% of the disk's read rate ({0.8 * read:.0f} MB/s): **{get64:.0f} MB/s, {get64 / read:.0%}** — "
        f"{'met' if get64 >= 0.8 * read else 'not met'}.",
        "<!-- objects:end -->",
    ])
    replace_section("objects", section)
    print(section)


main()
