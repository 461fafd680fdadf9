"""The processes one benchmark run starts: each is recorded so the run can stop exactly those,
by PID, however it ends."""
import os
import subprocess
import time

children = []


def start(args, log, env=None):
    """Starts `args` with its output in the file `log` and the environment plus `env`."""
    process = subprocess.Popen(args, stdout=open(log, "w"), stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    children.append(process)
    return process


def stop(process):
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stop_all():
    """Stops every process this run started that is still running."""
    for process in children:
        stop(process)


def wait_until(check, timeout=30):
    """True once `check()` is true (exceptions count as false), false after `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if check():
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False
