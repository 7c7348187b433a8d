#!/usr/bin/env bash
# `just bench` (runtime part): berth-runc against runc as containerd's OCI runtime, paired in
# one run under one private containerd (tests/common/containerd.rs does the same for the e2e
# suite). It prints:
# - `ctr run --rm busybox true`, BENCH_RUNS (30) timed pairs after 3 warm-up pairs, berth-runc
#   and runc alternating so that the machine's drift falls on both: min, median, p90, max;
# - memory: the peak RSS of the runtime's own `create` (what a start costs in memory), and,
#   with 5 containers running under each, the PSS of the processes left on the runtime's side
#   per container (containerd's shim; neither runtime leaves a process of its own);
# - the issue's goal (faster than runc), met or not.
# Needs root, containerd and ctr (Debian's containerd), runc and a release build of
# berth-runc; says what is missing and exits 0 without them. Removes what it made.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
runs=${BENCH_RUNS:-30}
for tool in containerd ctr runc; do
  if ! command -v "$tool" >/dev/null; then
    echo "bench (runtime): SKIPPED: no $tool (apt-get install containerd runc)"
    exit 0
  fi
done
berth_runc=$PWD/target/release/berth-runc
[ -x "$berth_runc" ] || cargo build --release --bin berth-runc
runc=$(command -v runc)
fixture=target/fixtures/busybox.tar
[ -f "$fixture" ] || bash fixtures/busybox/build.sh "$fixture" >/dev/null

work=$(mktemp -d /tmp/berth-runtime-bench.XXXXXX)
ns=berth-bench-runtime
containerd_pid=""
cleanup() {
  set +e
  for id in $(ctr_ ctr c ls -q 2>/dev/null); do
    ctr_ ctr t kill -s SIGKILL "$id" >/dev/null 2>&1
    ctr_ ctr t rm -f "$id" >/dev/null 2>&1
    ctr_ ctr c rm "$id" >/dev/null 2>&1
  done
  [ -n "$containerd_pid" ] && kill "$containerd_pid" 2>/dev/null && wait "$containerd_pid" 2>/dev/null
  pkill -9 -f "namespace $ns " 2>/dev/null
  find /sys/fs/cgroup/"$ns" /sys/fs/cgroup/*/"$ns" -depth -type d -exec rmdir {} + 2>/dev/null
  rm -rf "/run/containerd/runc/$ns"
  umount -R "$work" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
ctr_() { shift; ctr --address "$work/c.sock" --namespace "$ns" "$@"; }

cat >"$work/config.toml" <<TOML
version = 2
root = "$work/root"
state = "$work/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/c.sock"
[ttrpc]
  address = "$work/c.sock.ttrpc"
TOML
containerd --config "$work/config.toml" >"$work/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do ctr_ ctr version >/dev/null 2>&1 && break; sleep 0.1; done
ctr_ ctr images import "$fixture" >/dev/null
image=docker.io/library/busybox:latest


one_run() { # runtime id: wall ms of `ctr run --rm image id true`
  local t0 t1
  t0=$(date +%s%N)
  ctr_ ctr run --rm --runc-binary "$1" "$image" "$2" true >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
for i in 1 2 3; do
  one_run "$berth_runc" "warm-b$i" >/dev/null
  one_run "$runc" "warm-r$i" >/dev/null
done
: >"$work/berth.us"
: >"$work/runc.us"
for i in $(seq "$runs"); do
  one_run "$berth_runc" "b$i" >>"$work/berth.us"
  one_run "$runc" "r$i" >>"$work/runc.us"
done

# Peak RSS of each runtime's own commands: a wrapper under /usr/bin/time (kB).
for rt in berth runc; do
  real=$berth_runc
  [ "$rt" = runc ] && real=$runc
  cat >"$work/$rt-timed" <<SH
#!/bin/sh
exec /usr/bin/time -a -o "$work/$rt.rss" -f "%M %C" "$real" "\$@"
SH
  chmod +x "$work/$rt-timed"
  for i in 1 2 3 4 5; do
    ctr_ ctr run -d --runc-binary "$work/$rt-timed" "$image" "mem-$rt-$i" sleep 1000 >/dev/null
  done
  # The processes on the runtime's side: every one whose command line names our namespace
  # and that is not a container's own (the shims; a runtime that stayed would show here too).
  python3 - "$ns" "$rt" >>"$work/pss" <<'PY'
import os, sys
ns, rt = sys.argv[1], sys.argv[2]
total = 0
n = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        if f"-namespace".encode() not in cmd or ns.encode() not in cmd:
            continue
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                n += 1
    except OSError:
        pass
print(rt, n, total)
PY
  for i in 1 2 3 4 5; do
    ctr_ ctr t kill -s SIGKILL "mem-$rt-$i" >/dev/null 2>&1 || true
  done
  sleep 0.5
  for i in 1 2 3 4 5; do
    ctr_ ctr t rm -f "mem-$rt-$i" >/dev/null 2>&1 || true
    ctr_ ctr c rm "mem-$rt-$i" >/dev/null 2>&1 || true
  done
done

python3 - "$work" <<'PY'
import statistics, sys
work = sys.argv[1]
def stats(name):
    ms = sorted(int(l) / 1000 for l in open(f"{work}/{name}.us") if l.strip())
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return ms, (ms[0], statistics.median(ms), p90, ms[-1])
b, bs = stats("berth")
r, rs = stats("runc")
print(f"ctr run --rm busybox true, {len(b)} pairs (ms): min / median / p90 / max")
print(f"  berth-runc  {bs[0]:7.1f} {bs[1]:7.1f} {bs[2]:7.1f} {bs[3]:7.1f}")
print(f"  runc        {rs[0]:7.1f} {rs[1]:7.1f} {rs[2]:7.1f} {rs[3]:7.1f}")
print(f"  berth-runc / runc (medians): {bs[1] / rs[1]:.3f}")
def peak(rt, cmd):
    vals = [int(l.split()[0]) for l in open(f"{work}/{rt}.rss") if f" {cmd} " in l or l.rstrip().endswith(f" {cmd}")]
    return max(vals) if vals else 0
print("peak RSS of the runtime's own commands (kB): create / start / delete")
for rt in ("berth", "runc"):
    name = "berth-runc" if rt == "berth" else "runc"
    print(f"  {name:<11} {peak(rt, 'create'):7d} {peak(rt, 'start'):7d} {peak(rt, 'delete'):7d}")
print("runtime-side processes with 5 containers running (PSS, kB per container)")
for line in open(f"{work}/pss"):
    rt, n, total = line.split()
    name = "berth-runc" if rt == "berth" else "runc"
    print(f"  {name:<11} {int(n)} processes, {int(total) / 5:8.0f} kB per container")
print(f"goal: berth-runc faster than runc under ctr: {'met' if bs[1] < rs[1] else 'NOT met'}")
PY
