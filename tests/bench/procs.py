"""The bench's process census (tests/bench/network.sh): one line "pid rss_kB pss_kB" for
every process whose executable is one of the paths given, so the bench can count what an
engine added (docker-proxy per port, berth's proxy, shims) without assuming what it runs.
PSS splits shared pages among their users, so a thousand copies of one binary are not
counted a thousand times."""

import os
import sys

wanted = {os.path.realpath(p) for p in sys.argv[1:]}


def field(path, name):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        continue
    if exe.removesuffix(" (deleted)") in wanted:
        rss = field(f"/proc/{pid}/status", "VmRSS")
        pss = field(f"/proc/{pid}/smaps_rollup", "Pss")
        print(pid, rss, pss)
