#!/usr/bin/env python3
"""Used by tests/bench/network.sh: a stand-in for the outside world's DNS, on the address the
bench gave its namespace (ADDR:53, UDP). Every A query is answered with 192.0.2.1 (TEST-NET-1),
any other type with an empty answer, so forwarded lookups never leave the machine."""
import socket
import struct
import sys


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 53))
    while True:
        q, peer = s.recvfrom(4096)
        if len(q) < 12:
            continue
        qid, _flags, qd = struct.unpack("!HHH", q[:6])
        end = 12
        while end < len(q) and q[end] != 0:
            end += q[end] + 1
        question = q[12:end + 5]
        qtype = struct.unpack("!H", q[end + 1:end + 3])[0] if end + 3 <= len(q) else 0
        answers = b""
        if qd == 1 and qtype == 1:
            answers = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 1])
        header = struct.pack("!HHHHHH", qid, 0x8180, qd, 1 if answers else 0, 0, 0)
        s.sendto(header + question + answers, peer)


if __name__ == "__main__":
    main()
