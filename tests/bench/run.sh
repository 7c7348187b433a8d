#!/usr/bin/env bash
# `just bench`: the median and p90 wall time of `berth run --rm busybox true` against a private
# daemon, beside `runc run` of the same rootfs and `docker run --rm busybox true` when a Docker
# daemon answers (the one DOCKER_HOST names, if set); then the memory of the daemon (idle and after
# the runs) and of one container's shim, and the time for 20 containers started at once. BENCH_RUNS (default 30) runs each; hyperfine times them when installed.
# Runs as root; removes everything it made (daemon, temp dirs, bridge, chains, cgroups), also on failure.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
runs=${BENCH_RUNS:-30}
case "$runs" in '' | *[!0-9]* | 0)
  echo "bench: BENCH_RUNS must be a positive number, not '$runs'" >&2
  exit 1
  ;;
esac
bridge=bbench0 prefix=BBENCH cgroup_parent=berth-bench
fixture=target/fixtures/busybox.tar
if ip link show "$bridge" >/dev/null 2>&1; then
  echo "bench: $bridge exists: another bench runs, or one was killed (then: ip link del $bridge)" >&2
  exit 1
fi

cargo build --release -q
bash fixtures/busybox/build.sh "$fixture"
berth=$PWD/target/release/berth
work=$(mktemp -d /tmp/berth-bench.XXXXXX)
daemon=""
runc_id=berth-bench-$$

cleanup() {
  set +e
  if [ -n "$daemon" ]; then
    # shellcheck disable=SC2046 # one argument per id
    "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  runc delete -f "$runc_id" >/dev/null 2>&1
  remove_daemon_traces "$bridge" "$prefix" "$cgroup_parent"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bench_daemon 10.213.250.0/24
fail() {
  echo "bench: $1; the daemon's log ends:" >&2
  tail -20 "$work/daemon.log" >&2
  exit 1
}
"$berth" load -i "$fixture" >/dev/null || fail "berth load failed"
"$berth" run --rm busybox true || fail "berth run --rm busybox true failed"
idle_rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status")
idle_private=$(awk '/^Private_(Clean|Dirty)/ { k += $2 } END { print k }' "/proc/$daemon/smaps_rollup")

# time_runs CMD...: 3 warm-ups, then $runs timed runs; prints "median p90" in milliseconds.
# A failing run fails the bench: a time for a command that did not work means nothing.
if command -v hyperfine >/dev/null; then
  timer="hyperfine"
  time_runs() {
    local json=$work/hyperfine.json
    hyperfine --style none --warmup 3 --runs "$runs" -N --export-json "$json" "$(printf '%q ' "$@")" >/dev/null
    python3 -c '
import json, math, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(r["times"])
print("%.1f %.1f" % (r["median"] * 1000, t[math.ceil(0.9 * len(t)) - 1] * 1000))' "$json"
  }
else
  timer="a bash loop (date +%s%N)"
  time_runs() {
    local i t0 t1
    for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
    : >"$work/times"
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N)
      "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }
      t1=$(date +%s%N)
      echo $(((t1 - t0) / 1000)) >>"$work/times"
    done
    sort -n "$work/times" | awk -v n="$runs" '{ a[NR] = $1 } END {
      m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      p = int(0.9 * n); if (p < 0.9 * n) p++
      printf "%.1f %.1f\n", m / 1000, a[p] / 1000 }'
  }
fi

row() { printf '%-36s %10s %10s\n' "$@"; }
echo "$runs runs each, timed by $timer"
row "" "median ms" "p90 ms"
times=$(time_runs "$berth" run --rm busybox true)
read -r b_med b_p90 <<<"$times"
row "berth run --rm busybox true" "$b_med" "$b_p90"

r_med=""
if command -v runc >/dev/null; then
  # The same rootfs as berth's container: the fixture's layers unpacked in manifest order.
  bundle=$work/bundle
  mkdir -p "$bundle/rootfs" "$work/image"
  tar -xf "$fixture" -C "$work/image"
  python3 -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))[0]["Layers"]))' \
    "$work/image/manifest.json" >"$work/layers"
  while read -r layer; do tar -xf "$work/image/$layer" -C "$bundle/rootfs"; done <"$work/layers"
  (cd "$bundle" && runc spec)
  python3 -c '
import json, sys
path = sys.argv[1]
spec = json.load(open(path))
spec["process"]["args"] = ["true"]
spec["process"]["terminal"] = False
json.dump(spec, open(path, "w"), indent=2)' "$bundle/config.json"
  times=$(time_runs runc run --bundle "$bundle" "$runc_id")
  read -r r_med r_p90 <<<"$times"
  row "runc run (same rootfs, true)" "$r_med" "$r_p90"
else
  echo "runc: not installed, skipped"
fi

d_med=""
if ! command -v docker >/dev/null; then
  echo "docker: no docker CLI, skipped"
elif ! docker info >/dev/null 2>&1; then
  echo "docker: no Docker daemon answers${DOCKER_HOST:+ at $DOCKER_HOST}, skipped"
elif ! docker image inspect busybox >/dev/null 2>&1; then
  echo "docker: the daemon has no busybox image, skipped (docker load -i $fixture adds it)"
else
  times=$(time_runs docker run --rm busybox true)
  read -r d_med d_p90 <<<"$times"
  row "docker run --rm busybox true" "$d_med" "$d_p90"
fi

# Memory: the daemon after the runs above, and the shim of one running container.
"$berth" run -d --name bench-sleeper busybox sleep 30 >/dev/null
id=$("$berth" inspect -f '{{.Id}}' bench-sleeper)
pidfile=$work/exec/shims/$id/pid
for _ in $(seq 50); do [ -s "$pidfile" ] && break; sleep 0.1; done
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# What a process costs on its own: its private pages (Pss counts shared ones in part).
private() { awk '/^Private_(Clean|Dirty)/ { k += $2 } END { print k }' "/proc/$1/smaps_rollup"; }
shim=$(cat "$pidfile")
echo
printf '%-36s %10s %10s\n' "memory" "RSS kB" "private kB"
printf '%-36s %10s %10s\n' "berth daemon, idle (before the runs)" "$idle_rss" "$idle_private"
printf '%-36s %10s %10s\n' "berth daemon, after the runs" "$(rss "$daemon")" "$(private "$daemon")"
printf '%-36s %10s %10s\n' "one shim (busybox sleep 30)" "$(rss "$shim")" "$(private "$shim")"
"$berth" rm -f bench-sleeper >/dev/null

# 20 containers started at once (run -d, all in parallel), three times; the median wall time.
burst() {
  local cli=$1 t0 t1 i
  t0=$(date +%s%N)
  for i in $(seq 20); do "$cli" run -d --label berth-bench=1 busybox sleep 60 >/dev/null & done
  wait
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
  # shellcheck disable=SC2046
  "$cli" rm -f $("$cli" ps -q --filter label=berth-bench=1) >/dev/null
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
echo
printf '%-36s %10s\n' "20 containers started concurrently" "ms"
printf '%-36s %10s\n' "berth" "$(median3 "$(burst "$berth")" "$(burst "$berth")" "$(burst "$berth")")"
if [ -n "$d_med" ]; then
  printf '%-36s %10s\n' "docker" "$(median3 "$(burst docker)" "$(burst docker)" "$(burst docker)")"
fi

echo
if [ -n "$r_med" ]; then
  awk -v b="$b_med" -v r="$r_med" 'BEGIN { printf "berth / runc   = %.2f\n", b / r }'
fi
if [ -n "$d_med" ]; then
  awk -v b="$b_med" -v d="$d_med" 'BEGIN { printf "berth / docker = %.2f\n", b / d }'
fi
