"""Reads wrk --latency output on stdin; prints one tab-separated row:
peer, cell, requests/s, p50 ms, p99 ms, errors."""
import re
import sys

peer, cell = sys.argv[1:3]
text = sys.stdin.read()


def milliseconds(percentile):
    found = re.search(percentile + r"\s+([\d.]+)(us|ms|s|m)\b", text)
    if not found:
        sys.stderr.write(f"no {percentile} latency in wrk's output:\n{text}\n")
        return float("nan")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


rate = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = milliseconds("50%")
p99 = milliseconds("99%")
errors = 0
socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
if socket_errors:
    errors += sum(int(n) for n in socket_errors.groups())
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if non2xx:
    errors += int(non2xx.group(1))
print(f"{peer}\t{cell}\t{rate:.0f}\t{p50:.2f}\t{p99:.2f}\t{errors}")
