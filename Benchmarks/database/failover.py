"""PostgreSQL failover under a writer: Zonal against Patroni. See Benchmarks/database/failover."""
import datetime
import json
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import psycopg2

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from results_doc import replace_section  # noqa: E402

zonal, runs = (sys.argv[1], int(sys.argv[2])) if len(sys.argv) > 2 else ("zonal", 1)
POSTGRES = pwd.getpwnam("postgres")
NODES = {"n1": "127.0.51.1", "n2": "127.0.52.1"}
COORDINATOR = "127.0.50.1"
WRITE_LIMIT_SECONDS = 150


def http_status(url, token=None):
    try:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}
    except Exception:
        return None, {}


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")


def postmaster_pid(data_dir):
    try:
        return int(pathlib.Path(data_dir, "postmaster.pid").read_text().split("\n")[0])
    except (OSError, ValueError):
        return None


def kill(pid):
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Writer:
    """One client inserting increasing ids through libpq's multi-host read-write connection
    (the same for both systems); remembers every acknowledged id with its time."""

    def __init__(self):
        self.acknowledged = []
        self.stopped = threading.Event()
        self.deadline = time.monotonic() + WRITE_LIMIT_SECONDS
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        dsn = ("host=" + ",".join(NODES.values()) + " port=5432,5432 user=postgres dbname=postgres "
               "target_session_attrs=read-write connect_timeout=1")
        next_id, connection = 0, None
        while not self.stopped.is_set() and time.monotonic() < self.deadline:
            try:
                if connection is None:
                    connection = psycopg2.connect(dsn)
                    connection.autocommit = True
                next_id += 1
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO bench VALUES (%s) RETURNING host(inet_server_addr())", (next_id,))
                    server = cursor.fetchone()[0]
                self.acknowledged.append((next_id, time.monotonic(), server))
            except psycopg2.Error:
                connection = None
                time.sleep(0.02)

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=30)


def table_replicated(node):
    try:
        with psycopg2.connect(host=NODES[node], port=5432, user="postgres", dbname="postgres", connect_timeout=1) as connection:
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass('bench') IS NOT NULL")
                return cursor.fetchone()[0]
    except psycopg2.Error:
        return False


def measure(cluster, primary, standby):
    """Runs the writer, kills the primary after 2 s, returns RTO and RPO."""
    wait_for(lambda: table_replicated(standby), 60, "the table on the standby")
    writer = Writer()
    wait_for(lambda: len(writer.acknowledged) > 20, 60, "the first writes")
    time.sleep(2)
    killed_at = time.monotonic()
    cluster.kill(primary)
    # The first write the new primary acknowledged (one in flight on the old primary may still
    # have been acknowledged just after the kill was sent).
    after = wait_for(lambda: next((t for _, t, server in writer.acknowledged if server == NODES[standby]), None), 120, "a write on the new primary")
    time.sleep(1)
    writer.stop()
    with psycopg2.connect(host=NODES[standby], port=5432, user="postgres", dbname="postgres", connect_timeout=2) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM bench")
            present = {row[0] for row in cursor.fetchall()}
    lost = [i for i, _, _ in writer.acknowledged if i not in present]
    return {"rto": after - killed_at, "lost": len(lost), "writes": len(writer.acknowledged)}


def create_table(node):
    with psycopg2.connect(host=NODES[node], port=5432, user="postgres", dbname="postgres", connect_timeout=2) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench (id bigint PRIMARY KEY)")


def wait_until_ready(synchronous, system, is_synchronous):
    """Waits for a primary and a streaming replica (both systems answer /primary and /replica
    on port 8008), and in synchronous mode for the replica to be synchronous."""
    primary = wait_for(lambda: next((n for n, a in NODES.items() if http_status(f"http://{a}:8008/primary")[0] == 200), None), 120, f"a {system} primary")
    standby = next(n for n in NODES if n != primary)
    wait_for(lambda: http_status(f"http://{NODES[standby]}:8008/replica")[0] == 200, 120, f"a {system} replica")
    if synchronous:
        wait_for(lambda: is_synchronous(primary, standby), 60, f"a {system} synchronous standby")
    return primary, standby


class ZonalCluster:
    def __init__(self, directory, synchronous):
        self.directory = directory
        mode = "on" if synchronous else "off"
        nodes = "\n".join(f"  - {{ name: {name}, zone: z{i}, address: {address} }}" for i, (name, address) in enumerate(NODES.items()))
        topology = pathlib.Path(directory, "topology.yaml")
        topology.write_text(f"""
name: db-bench
coordinator: {{ backend: embedded, host: {COORDINATOR}, port: 17579 }}
regions: [{{ name: r, zones: [z0, z1] }}]
nodes:
{nodes}
services:
  - name: db
    kind: postgres
    nodes: [n1, n2]
    port: 5432
    admin_port: 8008
    database: {{ edition: ha, synchronous_mode: {mode} }}
""")
        # The admin token the coordinator and agents share, as `zonal up` would make it.
        token = secrets.token_hex(32)
        token_file = f"{directory}/admin-token"
        with open(os.open(token_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(token)
        self.processes = [subprocess.Popen([zonal, "coordinator", "serve", "--host", COORDINATOR, "--port", "17579", "--data-dir", f"{directory}/coordinator",
                                            "--token-file", token_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        self.agents = {}
        for name in NODES:
            log = open(f"{directory}/agent-{name}.log", "w")
            self.agents[name] = subprocess.Popen([zonal, "db", "agent", "--topology", str(topology), "--node", name, "--state-dir", f"{directory}/state"],
                                                 stdout=log, stderr=log, env={**os.environ, "ZONAL_TOKEN_FILE": token_file})
        # The clients log in with the cluster password the agents generate.
        os.environ["PGPASSFILE"] = f"{directory}/state/db/pgpass"
        try:
            self.primary, self.standby = wait_until_ready(synchronous, "Zonal", lambda primary, standby: standby in (
                http_status(f"http://{NODES[primary]}:8008/status", token)[1].get("synchronous") or {}).get("members", []))
        except Exception:
            self.stop()
            raise

    def kill(self, name):
        kill(postmaster_pid(f"{self.directory}/state/db/{name}/data"))
        kill(self.agents[name].pid)

    def stop(self):
        os.environ.pop("PGPASSFILE", None)
        for process in list(self.agents.values()) + self.processes:
            process.terminate()
        for process in list(self.agents.values()) + self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


class PatroniCluster:
    def __init__(self, directory, synchronous, tuned):
        self.directory = directory
        os.chown(directory, POSTGRES.pw_uid, POSTGRES.pw_gid)
        self.etcd = subprocess.Popen(["etcd", "--name", "bench", "--data-dir", f"{directory}/etcd", "--enable-v2=true",
                                      "--listen-client-urls", f"http://{COORDINATOR}:2379", "--advertise-client-urls", f"http://{COORDINATOR}:2379",
                                      "--listen-peer-urls", f"http://{COORDINATOR}:2380", "--initial-advertise-peer-urls", f"http://{COORDINATOR}:2380",
                                      "--initial-cluster", f"bench=http://{COORDINATOR}:2380"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: http_status(f"http://{COORDINATOR}:2379/health")[0] == 200, 30, "etcd")
        timing = "ttl: 5, loop_wait: 1, retry_timeout: 2" if tuned else "ttl: 30, loop_wait: 10, retry_timeout: 10"
        self.patronis = {}
        for name, address in NODES.items():
            config = pathlib.Path(directory, f"{name}.yml")
            config.write_text(f"""
scope: bench
name: {name}
restapi: {{ listen: "{address}:8008", connect_address: "{address}:8008" }}
etcd: {{ host: "{COORDINATOR}:2379" }}
bootstrap:
  dcs: {{ {timing}, maximum_lag_on_failover: 1048576, synchronous_mode: {"true" if synchronous else "false"},
          postgresql: {{ use_pg_rewind: true, parameters: {{ wal_log_hints: "on" }} }} }}
  initdb: [{{ encoding: UTF8 }}, data-checksums]
  pg_hba: ["host all all 127.0.0.0/8 trust", "host replication all 127.0.0.0/8 trust", "local all all trust"]
postgresql:
  listen: "{address}:5432"
  connect_address: "{address}:5432"
  data_dir: {directory}/{name}
  bin_dir: /usr/lib/postgresql/15/bin
  authentication: {{ superuser: {{ username: postgres, password: bench }}, replication: {{ username: postgres, password: bench }} }}
  parameters: {{ unix_socket_directories: "{directory}/{name}-socket" }}
""")
            os.makedirs(f"{directory}/{name}-socket")
            os.chown(f"{directory}/{name}-socket", POSTGRES.pw_uid, POSTGRES.pw_gid)
            os.chown(config, POSTGRES.pw_uid, POSTGRES.pw_gid)
            log = open(f"{directory}/patroni-{name}.log", "w")
            self.patronis[name] = subprocess.Popen(["setpriv", f"--reuid={POSTGRES.pw_uid}", f"--regid={POSTGRES.pw_gid}", "--init-groups",
                                                    "/usr/bin/patroni", str(config)], stdout=log, stderr=log, env={**os.environ, "HOME": directory})
        try:
            self.primary, self.standby = wait_until_ready(synchronous, "Patroni",
                                                          lambda primary, standby: http_status(f"http://{NODES[standby]}:8008/sync")[0] == 200)
        except Exception:
            self.stop()
            raise

    def kill(self, name):
        kill(postmaster_pid(f"{self.directory}/{name}"))
        kill(self.patronis[name].pid)

    def stop(self):
        for name, process in self.patronis.items():
            process.terminate()
        for name, process in self.patronis.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            kill(postmaster_pid(f"{self.directory}/{name}"))
        self.etcd.terminate()
        self.etcd.wait(timeout=30)


def run_case(label, make):
    results = []
    for run in range(runs):
        directory = tempfile.mkdtemp(prefix="zonal-dbbench-")
        os.chmod(directory, 0o755)
        cluster = None
        try:
            cluster = make(directory)
            create_table(cluster.primary)
            result = measure(cluster, cluster.primary, cluster.standby)
            results.append(result)
            print(f"{label} run {run + 1}: {result}", file=sys.stderr)
        finally:
            if cluster:
                cluster.stop()
            shutil.rmtree(directory, ignore_errors=True)
    return results


def main():
    cases = [
        ("Zonal, asynchronous (defaults: ttl 3 s, loop 1 s)", lambda d: ZonalCluster(d, synchronous=False)),
        ("Zonal, synchronous_mode: on (defaults)", lambda d: ZonalCluster(d, synchronous=True)),
        ("Patroni 3.0, asynchronous, defaults (ttl 30 s, loop_wait 10 s, retry_timeout 10 s)", lambda d: PatroniCluster(d, synchronous=False, tuned=False)),
        ("Patroni 3.0, asynchronous, tuned (ttl 5 s, loop_wait 1 s, retry_timeout 2 s)", lambda d: PatroniCluster(d, synchronous=False, tuned=True)),
        ("Patroni 3.0, synchronous_mode, tuned", lambda d: PatroniCluster(d, synchronous=True, tuned=True)),
    ]
    measured = [(label, run_case(label, make)) for label, make in cases]


    def median_rto(results):
        return statistics.median(r["rto"] for r in results)


    zonal_default = median_rto(measured[0][1])
    rows = []
    for label, results in measured:
        rtos = [r["rto"] for r in results]
        lost = sum(r["lost"] for r in results)
        writes = sum(r["writes"] for r in results)
        ratio = median_rto(results) / zonal_default
        rows.append(f"| {label} | {statistics.median(rtos):.2f} s (max {max(rtos):.2f} s) | {ratio:.1f}x | {lost} of {writes} |")

    section = "\n".join([
        "<!-- database:begin -->",
        "## PostgreSQL: failover after kill -9 of the primary",
        "",
        f"`Benchmarks/database/failover`, {datetime.date.today()}, {runs} runs per row: two nodes (PostgreSQL 15), one writer inserting "
        "increasing ids through libpq's multi-host read-write connection (the same client for both systems), kill -9 of the "
        "primary's postmaster and of its manager (Zonal's agent; Patroni) after 2 s of writes. RTO: kill to the first acknowledged "
        "write on the new primary. RPO: acknowledged ids missing on the new primary. Patroni runs with etcd 3.4 (v2 API) and no watchdog.",
        "",
        "| System and settings | RTO median (max) | RTO vs Zonal defaults | Acknowledged writes lost |",
        "|---|---|---|---|",
        *rows,
        "",
        "Targets: RTO at most 5 s with default settings; RPO 0 in synchronous mode.",
        "<!-- database:end -->",
    ])
    replace_section("database", section)
    print(section)


if __name__ == "__main__":
    main()
