#!/usr/bin/env bash
# `just bench`: the median (and p90) wall time of `berth run --rm busybox true` against a
# private daemon, beside `runc run` of the same rootfs and `docker run --rm` when a Docker
# daemon answers (the one DOCKER_HOST names, if set); then the resident memory of the daemon and of one container's shim.
# Runs as root; cleans up everything it made, also on failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
if [ "$(id -u)" -ne 0 ]; then echo "bench: needs root" >&2; exit 1; fi
runs=${BENCH_RUNS:-30}

cargo build --release -q
bash fixtures/busybox/build.sh target/fixtures/busybox.tar >/dev/null
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
export BERTH_HOST=unix://$work/berth.sock
"$berth" daemon --root "$work/root" --exec-root "$work/exec" -H "$BERTH_HOST" --bridge bbench0 \
  --iptables-prefix BBENCH --default-subnet-pool base=10.213.250.0/24,size=24 \
  --cgroup-parent berth-bench > "$work/daemon.log" 2>&1 &
daemon=$!
cleanup() {
  "$berth" rm -f bench-sleeper >/dev/null 2>&1 || true
  kill "$daemon" 2>/dev/null || true
  wait "$daemon" 2>/dev/null || true
  runc delete -f "bench-runc-$$" >/dev/null 2>&1 || true
  ip link del bbench0 2>/dev/null || true
  for t in "nat POSTROUTING" "filter FORWARD"; do
    # shellcheck disable=SC2086 # split "table hook" into two words
    set -- $t
    iptables -w -t "$1" -D "$2" -j "BBENCH-$2" 2>/dev/null || true
    iptables -w -t "$1" -F "BBENCH-$2" 2>/dev/null || true
    iptables -w -t "$1" -X "BBENCH-$2" 2>/dev/null || true
  done
  rmdir /sys/fs/cgroup/berth-bench /sys/fs/cgroup/*/berth-bench 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 100); do "$berth" version >/dev/null 2>&1 && break; sleep 0.1; done
"$berth" load -i target/fixtures/busybox.tar >/dev/null || { cat "$work/daemon.log"; exit 1; }
"$berth" run --rm busybox true || { echo "bench: berth run fails:"; tail -5 "$work/daemon.log"; exit 1; }

# time_runs NAME CMD...: run CMD $runs times after 3 warm-ups; print "median p90" in ms.
time_runs() {
  local i t0 t1
  for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
  : > "$work/times"
  for ((i = 0; i < runs; i++)); do
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) >> "$work/times"
  done
  sort -n "$work/times" | awk -v n="$runs" '{a[NR]=$1} END {
    m = (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2;
    p = a[int(n*0.9 + 0.999)];
    printf "%.1f %.1f\n", m/1000, p/1000 }'
}

printf '%-34s %10s %10s\n' "what ($runs runs)" "median ms" "p90 ms"
read -r b_med b_p90 < <(time_runs "$berth" run --rm busybox true)
printf '%-34s %10s %10s\n' "berth run --rm busybox true" "$b_med" "$b_p90"

r_med=""
if command -v runc >/dev/null; then
  bundle=$work/bundle
  mkdir -p "$bundle/rootfs"
  tar -xOf target/fixtures/busybox.tar --wildcards '*/layer.tar' | tar -x -C "$bundle/rootfs"
  (cd "$bundle" && runc spec)
  sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"true"/' "$bundle/config.json"
  read -r r_med r_p90 < <(time_runs runc run --bundle "$bundle" "bench-runc-$$")
  printf '%-34s %10s %10s\n' "runc run (same rootfs, true)" "$r_med" "$r_p90"
else
  echo "runc: not installed, skipped"
fi

d_med=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1 && docker image inspect busybox >/dev/null 2>&1; then
  read -r d_med d_p90 < <(time_runs docker run --rm busybox true)
  printf '%-34s %10s %10s\n' "docker run --rm busybox true" "$d_med" "$d_p90"
else
  echo "docker: no Docker daemon with a busybox image answers here, skipped"
fi

echo
[ -n "$r_med" ] && awk -v b="$b_med" -v r="$r_med" 'BEGIN { printf "berth / runc   = %.2f\n", b / r }'
[ -n "$d_med" ] && awk -v b="$b_med" -v d="$d_med" 'BEGIN { printf "berth / docker = %.2f (goal: 0.10 or less)\n", b / d }'

"$berth" run -d --name bench-sleeper busybox sleep 30 >/dev/null
id=$("$berth" inspect bench-sleeper | grep -m1 '"Id"' | cut -d'"' -f4)
shim_pid=$(cat "$work/exec/shims/$id/pid")
rss() { awk '/VmRSS/ { print $2 " kB" }' "/proc/$1/status"; }
echo
echo "memory (VmRSS): daemon $(rss "$daemon"), one shim $(rss "$shim_pid")"
