"""The backup benchmark; see Benchmarks/backup/run."""
import datetime
import filecmp
import statistics
import os
import pathlib
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from results_doc import replace_section  # noqa: E402

zonal, size_mib = sys.argv[1], int(sys.argv[2])
SOURCES = ["/opt/swift/usr/bin", "/opt/swift/usr/lib", "/usr/share/doc", "/usr/lib/python3"]
# Where the many small files of a real server come from: documentation, headers, scripts.
SMALL_SOURCES = ["/usr/share", "/usr/include", "/usr/lib/python3"]
SMALL_FILE_BYTES = 16 << 10
SMALL_FILES = 40_000
PASSWORD = "benchmark password"


def build_dataset(root):
    """About size_mib MiB of real files, picked deterministically (sorted): first up to
    SMALL_FILES files under 16 KiB (a server's mix: most files are small), then larger files
    up to the budget, plus 5% duplicated content: compressible docs, incompressible binaries,
    duplicates."""
    budget = size_mib << 20
    taken = 0
    files = []
    chosen = set()

    def take(path):
        nonlocal taken
        files.append(path)
        chosen.add(path)
        taken += os.path.getsize(path)

    def regular(directory, names):
        for name in sorted(names):
            path = os.path.join(directory, name)
            if not os.path.islink(path) and os.path.isfile(path):
                yield path

    small = 0
    for source in SMALL_SOURCES:
        for directory, _, names in sorted(os.walk(source)):
            for path in regular(directory, names):
                if small < SMALL_FILES and os.path.getsize(path) < SMALL_FILE_BYTES and path not in chosen:
                    take(path)
                    small += 1
    for source in SOURCES:
        for directory, _, names in sorted(os.walk(source)):
            for path in regular(directory, names):
                if path not in chosen and taken + os.path.getsize(path) <= budget * 0.95:
                    take(path)
    for path in files:
        target = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(path, target)
    duplicate = os.path.join(root, "duplicates")
    os.makedirs(duplicate)
    copied = 0
    for index, path in enumerate(files):
        if copied > budget * 0.05:
            break
        shutil.copy2(path, os.path.join(duplicate, f"{index}-{os.path.basename(path)}"))
        copied += os.path.getsize(path)


def mutate(root, seed=5):
    """A deterministic change of about 5%: appends, bytes inserted in the middle of large
    files, deletions, and a renamed directory."""
    rng = random.Random(seed)
    paths = sorted(str(p) for p in pathlib.Path(root).rglob("*") if p.is_file())
    large = [p for p in paths if os.path.getsize(p) > 1 << 20]
    for path in rng.sample(large, min(20, len(large))):
        data = pathlib.Path(path).read_bytes()
        middle = len(data) // 2
        pathlib.Path(path).write_bytes(data[:middle] + rng.randbytes(4096) + data[middle:])
    for path in rng.sample(paths, min(200, len(paths))):
        if os.path.exists(path):
            with open(path, "ab") as handle:
                handle.write(rng.randbytes(rng.randint(10, 20000)))
    for path in rng.sample(paths, min(100, len(paths))):
        if os.path.exists(path):
            os.remove(path)
    directories = sorted(str(p) for p in pathlib.Path(root).rglob("*") if p.is_dir() and p.name != "duplicates")
    victim = directories[len(directories) // 3]
    os.rename(victim, victim + "-renamed")
    extra = os.path.join(root, "new-data")
    os.makedirs(extra)
    for index in range(5):
        pathlib.Path(extra, f"blob{index}").write_bytes(rng.randbytes(4 << 20))


def measure(command, env, cwd=None, cold=False):
    """Runs a command under GNU time; returns (seconds, peak RSS in MiB, CPU seconds). Dirty
    pages left by the previous command are written out first, so that no tool pays for another's
    writes; `cold` also drops the page cache, so every read comes from the disk."""
    os.sync()
    if cold:
        pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")
    started = time.monotonic()
    result = subprocess.run(["/usr/bin/time", "-v"] + command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")

    def field(label):
        return next(line.split(":")[1] for line in result.stderr.splitlines() if label in line)

    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    return elapsed, int(field("Maximum resident set size")) / 1024, cpu


def count_files(path):
    """All files of a tree, and those under 16 KiB."""
    sizes = [p.stat().st_size for p in pathlib.Path(path).rglob("*") if p.is_file()]
    return len(sizes), sum(1 for size in sizes if size < SMALL_FILE_BYTES)


def size_of(path):
    return sum(p.stat().st_size for p in pathlib.Path(path).rglob("*") if p.is_file())


def identical(a, b):
    comparison = filecmp.dircmp(a, b)
    if comparison.left_only or comparison.right_only or comparison.diff_files or comparison.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, comparison.common_files, shallow=False)
    return not mismatch and not errors and all(identical(os.path.join(a, d), os.path.join(b, d)) for d in comparison.common_dirs)


def tools(work, data):
    env = dict(os.environ, RESTIC_PASSWORD=PASSWORD, BORG_PASSPHRASE=PASSWORD, ZONAL_BACKUP_PASSWORD=PASSWORD)
    return env, {
        "zonal": {
            "init": [zonal, "backup", "init", "--repo", f"{work}/zonal"],
            "backup": [zonal, "backup", "create", "--repo", f"{work}/zonal", data],
            "restore": lambda target: [zonal, "backup", "restore", "--repo", f"{work}/zonal", "latest", "--target", target],
            "repo": f"{work}/zonal",
            "restored": lambda target: os.path.join(target, os.path.basename(data)),
        },
        "restic": {
            "init": ["restic", "init", "--repo", f"{work}/restic"],
            "backup": ["restic", "backup", "--repo", f"{work}/restic", data],
            "restore": lambda target: ["restic", "restore", "--repo", f"{work}/restic", "latest", "--target", target],
            "repo": f"{work}/restic",
            "restored": lambda target: os.path.join(target, data.lstrip("/")),
        },
        "borg": {
            "init": ["borg", "init", "--encryption=repokey", f"{work}/borg"],
            "backup": None,  # archive names need a counter; built below
            "restore": None,
            "repo": f"{work}/borg",
            "restored": lambda target: os.path.join(target, data.lstrip("/")),
        },
    }


# Zonal and restic each back up into TRIALS fresh repositories (borg, which is slower, into one),
# and every figure but the restore's is the median over them. restic draws a random chunking
# polynomial for each repository, so its deduplication after the mutation differs from one
# repository to the next; Zonal's chunker is the same everywhere. Restores are timed TRIALS times
# from the first repository.
TRIALS = 3


def median(values):
    return sorted(values)[len(values) // 2]


def main():
    with tempfile.TemporaryDirectory(prefix="zonal-bench-backup-") as work:
        data = os.path.join(work, "dataset")
        build_dataset(data)
        dataset_bytes = size_of(data)
        env, commands = tools(work, data)
        rows = {}
        repositories = {}
        for name, tool in commands.items():
            print(f"--- {name}", file=sys.stderr)
            trials = 1 if name == "borg" else TRIALS
            repositories[name] = [tool["repo"]] + [f"{tool['repo']}-{trial}" for trial in range(1, trials)]
            firsts, sizes = [], []
            for repo in repositories[name]:
                subprocess.run(in_repo(tool["init"], tool, repo), env=env, check=True, capture_output=True)
                firsts.append(measure(backup_command(name, tool, repo, data, 1), env))
                sizes.append(size_of(repo))
            row = {}
            row["first"] = median([seconds for seconds, _, _ in firsts])
            row["first_mem"] = median([memory for _, memory, _ in firsts])
            row["first_cpu"] = median([cpu for _, _, cpu in firsts])
            row["size"] = median(sizes)
            row["second"] = measure(backup_command(name, tool, tool["repo"], data, 2), env)[0]
            rows[name] = row
        mutate(data)
        for name, tool in commands.items():
            row = rows[name]
            mutated, added = [], []
            for repo in repositories[name]:
                before = size_of(repo)
                mutated.append(measure(backup_command(name, tool, repo, data, 3), env)[0])
                added.append(size_of(repo) - before)
            row["mutated"], row["added"] = median(mutated), median(added)
            trials = 1 if name == "borg" else TRIALS
            identical_restores = []

            def restore(cold):
                with FreshFileSystem(work, dataset_bytes) as mountpoint:
                    target = os.path.join(mountpoint, "restore")
                    os.makedirs(target)
                    if name == "borg":
                        result = measure(["borg", "extract", f"{tool['repo']}::run3"], env, cwd=target, cold=cold)
                    else:
                        result = measure(tool["restore"](target), env, cold=cold)
                    identical_restores.append(identical(data, tool["restored"](target)))
                    return result

            for cache in ("cold", "warm"):
                if cache == "warm":
                    restore(False)  # reads the repository into the page cache
                restores = [restore(cache == "cold") for _ in range(trials)]
                row[f"restore_{cache}"] = median([seconds for seconds, _, _ in restores])
                row[f"restore_{cache}_mem"] = median([memory for _, memory, _ in restores])
                row[f"restore_{cache}_cpu"] = median([cpu for _, _, cpu in restores])
            row["identical"] = all(identical_restores)
            print(f"{name}: {row}", file=sys.stderr)
        write_report(rows, dataset_bytes, *count_files(data))


class FreshFileSystem:
    """A new ext4 file system for one restore, on a loop device with direct I/O (so its writes
    reach the disk, not the page cache), unmounted and deleted afterwards. Every tool restores
    into the same empty file system: on a used one, ext4's inode allocator scans for recently
    deleted inodes (`recently_deleted`) and the time of a restore depends on what ran before."""

    def __init__(self, work, dataset_bytes):
        self.image = os.path.join(work, "restore.img")
        self.mountpoint = os.path.join(work, "restore-mount")
        self.size = dataset_bytes * 2 + (512 << 20)

    def __enter__(self):
        with open(self.image, "wb") as image:
            image.truncate(self.size)
        self.device = subprocess.run(["losetup", "--direct-io=on", "--find", "--show", self.image], check=True, capture_output=True,
                                     text=True).stdout.strip()
        subprocess.run(["mkfs.ext4", "-q", "-F", self.device], check=True)
        os.makedirs(self.mountpoint, exist_ok=True)
        subprocess.run(["mount", self.device, self.mountpoint], check=True)
        return self.mountpoint

    def __exit__(self, *_):
        subprocess.run(["umount", self.mountpoint], check=True)
        subprocess.run(["losetup", "--detach", self.device], check=True)
        os.remove(self.image)


def in_repo(command, tool, repo):
    """`command` with the tool's repository path replaced by `repo`."""
    return [argument.replace(tool["repo"], repo) for argument in command]


def backup_command(name, tool, repo, data, number):
    if name == "borg":
        return ["borg", "create", "--compression", "zstd,3", f"{repo}::run{number}", data]
    return in_repo(tool["backup"], tool, repo)


def write_report(rows, dataset_bytes, dataset_files, small_files):
    mib = dataset_bytes / (1 << 20)
    restic = rows["restic"]

    def ratio(value, reference, higher_is_better):
        if not reference or not value:
            return "-"
        return f"{(reference / value if higher_is_better else value / reference):.2f}x"

    lines = [
        "<!-- backup:begin -->",
        "## Backup engine: Zonal against restic and borg",
        "",
        f"`Benchmarks/backup/run`, {datetime.date.today()}: {mib:.0f} MiB in {dataset_files} real files from this machine "
        f"({small_files} of them under 16 KiB: documentation, headers, Python; the rest Swift toolchain binaries and "
        "libraries, documentation, Python libraries; 5% duplicated), then a deterministic 5% "
        "mutation (bytes inserted in the middle of 20 large files, 200 appends, 100 deletions, a renamed directory, "
        "20 MiB of new data). Encryption on everywhere; borg with `zstd,3`; restic 0.14 with its defaults (repository "
        "version 2, compression `auto`); Zonal with zstd 3. Times are wall clock on 2 cores, with dirty pages synced "
        "before each command; CPU is user plus system seconds. Zonal and restic each back up into "
        f"{TRIALS} fresh repositories and each figure is the "
        "median over them (restic draws a random chunking polynomial per repository, so its deduplication varies from "
        f"one to the next); restores of the mutated tree are the median of {TRIALS} runs, each into a new ext4 file "
        "system on a loop device with direct I/O, from a cold page cache (`echo 3 > /proc/sys/vm/drop_caches` first) "
        "and from a warm one; Zonal's restore ends with a `syncfs`, restic's and borg's do not; borg runs once.",
        "",
        "| Measure | Zonal | restic | borg | Zonal vs restic |",
        "|---|---|---|---|---|",
    ]

    def row(label, key, fmt, higher_is_better_as_speed):
        values = [rows[t].get(key) for t in ("zonal", "restic", "borg")]
        cells = [fmt(v) if v is not None else "-" for v in values]
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {cells[2]} | {ratio(values[0], values[1], higher_is_better_as_speed)} |")

    seconds = lambda v: f"{v:.1f} s"
    mebibytes = lambda v: f"{v / (1 << 20):.1f} MiB"
    row("First backup", "first", seconds, True)
    lines.append(f"| First backup throughput | {mib / rows['zonal']['first']:.0f} MiB/s | {mib / restic['first']:.0f} MiB/s | {mib / rows['borg']['first']:.0f} MiB/s | {restic['first'] / rows['zonal']['first']:.2f}x |")
    row("Repository size", "size", mebibytes, False)
    row("Second backup, unchanged", "second", seconds, True)
    row("Backup after the mutation", "mutated", seconds, True)
    row("Bytes added by the mutation", "added", mebibytes, False)
    row("First backup CPU", "first_cpu", seconds, True)
    for cache in ("cold", "warm"):
        key = f"restore_{cache}"
        row(f"Full restore, {cache} cache", key, seconds, True)
        lines.append(
            f"| Restore throughput, {cache} cache | {mib / rows['zonal'][key]:.0f} MiB/s | {mib / restic[key]:.0f} MiB/s | "
            f"{mib / rows['borg'][key]:.0f} MiB/s | {restic[key] / rows['zonal'][key]:.2f}x |")
        row(f"Restore CPU, {cache} cache", f"{key}_cpu", seconds, True)
    row("Peak memory, first backup", "first_mem", lambda v: f"{v:.0f} MiB", False)
    row("Peak memory, restore", "restore_warm_mem", lambda v: f"{v:.0f} MiB", False)
    lines.append(f"| Restore byte-identical | {rows['zonal']['identical']} | {restic['identical']} | {rows['borg']['identical']} | |")
    lines += [
        "",
        "Targets (issues #6 and #19): backup and restore throughput (cold and warm) at least 1.5x restic's, peak memory "
        "no more than restic's, repository no larger than restic's, bytes added after the mutation no more than restic's. For speed rows the ratio is restic's time over Zonal's "
        "(above 1 is faster); for sizes and memory it is Zonal's over restic's (below 1 is smaller).",
        "<!-- backup:end -->",
    ]
    section = "\n".join(lines)
    replace_section("backup", section)
    print(section)


main()
