#!/usr/bin/env python3
"""Used by tests/bench/network.sh, run inside a container's network namespace (nsenter -n):
send COUNT DNS queries for NAME, one at a time over UDP, to SERVER:53 and print the median and
the 99th percentile of the round trips in microseconds, and how many answers carried an A
record. A stdlib-only client, so the same program measures berth's and Docker's resolvers."""
import random
import socket
import statistics
import struct
import sys
import time


def query(name, qid):
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return header + labels + b"\x00" + struct.pack("!HH", 1, 1)


def main():
    server, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((server, 53))
    times, answered = [], 0
    for _ in range(count):
        qid = random.randrange(65536)
        t0 = time.perf_counter_ns()
        s.send(query(name, qid))
        while True:
            reply = s.recv(4096)
            if struct.unpack("!H", reply[:2])[0] == qid:
                break
        times.append((time.perf_counter_ns() - t0) / 1000)
        if struct.unpack("!H", reply[6:8])[0] > 0:
            answered += 1
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"{statistics.median(times):.0f} {p99:.0f} {answered}")


if __name__ == "__main__":
    main()
