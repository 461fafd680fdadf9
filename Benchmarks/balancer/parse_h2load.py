"""Reads h2load output on stdin; prints one tab-separated row like parse_wrk.py's:
peer, cell, requests/s, mean ms (h2load gives no median), max ms (no p99), errors."""
import re
import sys

peer, cell = sys.argv[1:3]
text = sys.stdin.read()


def milliseconds(value):
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


rate = float(re.search(r"finished in \S+, ([\d.]+) req/s", text).group(1))
request_time = re.search(r"time for request:\s+(\S+)\s+(\S+)\s+(\S+)", text)
minimum, maximum, mean = (milliseconds(v) for v in request_time.groups())
done = re.search(r"requests: \d+ total, \d+ started, \d+ done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout", text)
errors = sum(int(n) for n in done.groups())
non2xx = re.search(r"status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
errors += sum(int(n) for n in non2xx.groups())
print(f"{peer}\t{cell}\t{rate:.0f}\t{mean:.2f}\t{maximum:.2f}\t{errors}")
