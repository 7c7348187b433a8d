#!/usr/bin/env bash
# `just bench` (start part): how fast berth starts containers, beside runc and Docker in the
# same run, and what a running container costs. It prints:
# - `run --rm busybox true`, BENCH_RUNS (30) timed runs after 3 warm-ups: min, median, p90 and
#   max, for berth, for `runc run` of the same rootfs (no image, no network), and for Docker;
# - where berth's time goes: the median of each phase, from the daemon's --debug log;
# - 20 `run -d … sleep` at once (on the fresh daemon, first), and 100 `run --rm … true` one
#   after the other: the wall time, BENCH_REPS (5) times for berth (median, min, max), 3 times
#   and once for Docker;
# - memory: the daemon's RSS idle and after the runs, and with 10 containers running the PSS
#   of each one's shim (berth's cost per container: the container's own process is the
#   workload's) and the daemon's growth per container;
# - the issue's goals, each met or not.
# Docker: the daemon DOCKER_HOST (or /var/run/docker.sock) names if it answers; else, with
# dockerd installed, a private one in a network namespace of its own (tests/bench/lib.sh);
# BENCH_DOCKER=0 leaves Docker out. hyperfine times the single runs when installed.
# The daemon's root is under /tmp, its exec root on a tmpfs (as berth's default /run/berth
# is). Runs as root; removes everything it made (daemons, temp dirs, bridge, chains,
# cgroups), also on failure.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
runs=${BENCH_RUNS:-30}
reps=${BENCH_REPS:-5}
for v in runs reps; do
  case "${!v}" in '' | *[!0-9]* | 0)
    echo "bench: BENCH_${v^^} must be a positive number, not '${!v}'" >&2
    exit 1
    ;;
  esac
done
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
# The exec root on a tmpfs, as berth's default /run/berth is on a systemd host: state that
# lives for one boot. Where /run is not a tmpfs (some VMs), the bench mounts one.
exec_root=$(mktemp -d /run/berth-bench-exec.XXXXXX)
if [ "$(stat -f -c %T /run)" != tmpfs ]; then mount -t tmpfs -o mode=0700 berth-bench "$exec_root"; fi
daemon="" private_docker="" docker_ok="" docker_why=""
runc_id=berth-bench-$$

cleanup() {
  set +e
  if [ -n "$daemon" ]; then
    # shellcheck disable=SC2046 # one argument per id
    "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  if [ -n "$docker_ok" ]; then
    # shellcheck disable=SC2046
    docker rm -f $(docker ps -aq --filter label=berth-bench=1) >/dev/null 2>&1
  fi
  stop_private_dockerd "$work/docker" berth-bench-docker
  runc delete -f "$runc_id" >/dev/null 2>&1
  remove_daemon_traces "$bridge" "$prefix" "$cgroup_parent"
  umount -l "$exec_root" 2>/dev/null
  rm -rf "$work" "$exec_root"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bench_daemon 10.213.250.0/24 --debug
fail() {
  echo "bench: $1; the daemon's log ends:" >&2
  tail -20 "$work/daemon.log" >&2
  exit 1
}
"$berth" load -i "$fixture" >/dev/null || fail "berth load failed"
"$berth" run --rm busybox true || fail "berth run --rm busybox true failed"
sleep 1
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
pss() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
idle_rss=$(rss "$daemon")

# time_runs CMD...: 3 warm-ups, then $runs timed runs; prints "min median p90 max" in
# milliseconds. A failing run fails the bench: a time for a command that did not work means
# nothing.
stats() {
  sort -n | awk '{ a[NR] = $1 } END {
    n = NR; m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    p = int(0.9 * n); if (p < 0.9 * n) p++
    printf "%.1f %.1f %.1f %.1f\n", a[1], m, a[p], a[n] }'
}
if command -v hyperfine >/dev/null; then
  timer="hyperfine"
  time_runs() {
    local json=$work/hyperfine.json
    hyperfine --style none --warmup 3 --runs "$runs" -N --export-json "$json" "$(printf '%q ' "$@")" >/dev/null
    python3 -c 'import json, sys
for t in json.load(open(sys.argv[1]))["results"][0]["times"]: print(t * 1000)' "$json" | stats
  }
else
  timer="a bash loop (date +%s%N; a fork and exec of the client included)"
  time_runs() {
    local i t0 t1
    for _ in 1 2 3; do "$@" >/dev/null 2>&1; done
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s%N)
      "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }
      t1=$(date +%s%N)
      echo "$(((t1 - t0) / 1000))e-3"
    done | awk '{ printf "%.3f\n", $1 }' | stats
  }
fi

# berth's figures first, then runc's, then Docker's (set up only then): an engine's removals
# go on in the background for a while after `rm` returns (Docker's for seconds), and no
# figure may pay for another engine's. The bursts come first, on the fresh daemon: on a
# filesystem without a journal (as on the machines this was written on), ext4 skips inodes
# freed in the last minute when it allocates, and a few hundred containers made and removed
# before slow every later file creation down.
# 20 containers started at once (run -d, all in parallel); the wall time in ms.
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
# 100 `run --rm busybox true`, one after the other; the wall time in ms.
sequential() {
  local cli=$1 t0 t1 i
  t0=$(date +%s%N)
  for i in $(seq 100); do "$cli" run --rm busybox true; done
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
# repeat N CMD...: CMD's output N times, then "median min max".
repeat() {
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do "$@"; done | sort -n | awk '{ a[NR] = $1 } END {
    m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
    printf "%d %d %d\n", m, a[1], a[NR] }'
}
read -r bb_med bb_min bb_max <<<"$(repeat "$reps" burst "$berth")"
read -r b_min b_med b_p90 b_max <<<"$(time_runs "$berth" run --rm busybox true)"
# The timed runs' containers are the last $runs created so far.
phases=$(
python3 - "$work/daemon.log" "$runs" <<'EOF'
import re, statistics, sys
log, runs = sys.argv[1], int(sys.argv[2])
unit = {"ns": 1e-6, "µs": 1e-3, "ms": 1.0, "s": 1000.0}
pat = re.compile(r"(create|start|exit|remove) ([0-9a-f]{12}): (.+?) (?:after|in) ([0-9.]+)(ns|µs|ms|s)\b")
lines = []
for line in open(log, encoding="utf-8", errors="replace"):
    m = pat.search(re.sub(r"\x1b\[[0-9;]*m", "", line))
    if m:
        lines.append(m)
order = list(dict.fromkeys(m.group(2) for m in lines if m.group(1) == "create"))
ids = set(order[-runs:])
seen = {}
for m in lines:
    if m.group(2) in ids:
        key = (m.group(1), m.group(3))
        seen.setdefault(key, []).append(float(m.group(4)) * unit[m.group(5)])
names = {"create": "create (the API call)", "exit": "exit: teardown before the answer",
         "remove": "remove (--rm)"}
for (verb, what), ms in seen.items():
    label = names.get(verb) if verb != "start" else f"start: {what} (since start)"
    print(f"  {label:<58} {statistics.median(ms):7.2f}")
EOF
)
read -r bs_med bs_min bs_max <<<"$(repeat "$reps" sequential "$berth")"

# Memory: the daemon after all that, and ten running containers.
after_rss=$(rss "$daemon")
for i in $(seq 10); do "$berth" run -d --label berth-bench=1 busybox sleep 300 >/dev/null; done
sleep 0.5
shim_pss=()
for id in $("$berth" ps -q --no-trunc --filter label=berth-bench=1); do
  shim_pss+=("$(pss "$(cat "$exec_root/shims/$id/pid")")")
done
ten_rss=$(rss "$daemon")
shim_med=$(printf '%s\n' "${shim_pss[@]}" | stats | awk '{ print $2 }')
shim_max=$(printf '%s\n' "${shim_pss[@]}" | stats | awk '{ print $4 }')
growth=$(((ten_rss - after_rss) / 10))
# shellcheck disable=SC2046
"$berth" rm -f $("$berth" ps -q --filter label=berth-bench=1) >/dev/null

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
  read -r r_min r_med r_p90 r_max <<<"$(time_runs runc run --bundle "$bundle" "$runc_id")"
fi

if [ "${BENCH_DOCKER:-1}" = 0 ]; then
  docker_why="BENCH_DOCKER=0"
elif ! command -v docker >/dev/null; then
  docker_why="no docker CLI"
elif docker version >/dev/null 2>&1; then
  docker_ok=yes
elif ! command -v dockerd >/dev/null; then
  docker_why="no Docker daemon answers and dockerd is not installed"
elif start_private_dockerd "$work/docker" berth-bench-docker; then
  docker_ok=yes
fi
if [ -n "$docker_ok" ] && ! docker image inspect busybox:latest >/dev/null 2>&1; then
  docker load -i "$fixture" >/dev/null
fi

d_med=""
if [ -n "$docker_ok" ]; then
  read -r d_min d_med d_p90 d_max <<<"$(time_runs docker run --rm busybox true)"
  read -r db_med db_min db_max <<<"$(repeat 3 burst docker)"
  read -r ds_med _ _ <<<"$(repeat 1 sequential docker)"
fi

row() { printf '%-34s %8s %8s %8s %8s\n' "$@"; }
echo "$runs runs each, timed by $timer"
row "" "min ms" "median" "p90" "max"
row "berth run --rm busybox true" "$b_min" "$b_med" "$b_p90" "$b_max"
if [ -n "$r_med" ]; then
  row "runc run (same rootfs, true)" "$r_min" "$r_med" "$r_p90" "$r_max"
else
  echo "runc: not installed, skipped"
fi
if [ -n "$d_med" ]; then
  row "docker run --rm busybox true" "$d_min" "$d_med" "$d_p90" "$d_max"
else
  echo "docker: $docker_why, skipped"
fi
echo
echo "where berth's median run goes (ms; the daemon's --debug log of the timed runs)"
echo "$phases"
echo
row2() { printf '%-34s %8s %8s %8s %5s\n' "$@"; }
row2 "wall time, ms" "median" "min" "max" "runs"
row2 "berth: 20 run -d at once" "$bb_med" "$bb_min" "$bb_max" "$reps"
row2 "berth: 100 run --rm, in a row" "$bs_med" "$bs_min" "$bs_max" "$reps"
if [ -n "$d_med" ]; then
  row2 "docker: 20 run -d at once" "$db_med" "$db_min" "$db_max" 3
  row2 "docker: 100 run --rm, in a row" "$ds_med" "" "" 1
fi
echo
printf '%-44s %8s\n' "memory" "kB"
printf '%-44s %8s\n' "berth daemon RSS, idle (after one run)" "$idle_rss"
printf '%-44s %8s\n' "berth daemon RSS, after the runs above" "$after_rss"
printf '%-44s %8s\n' "a shim's PSS, median of 10 running" "$shim_med"
printf '%-44s %8s\n' "a shim's PSS, largest of 10 running" "$shim_max"
printf '%-44s %8s\n' "daemon RSS growth per running container" "$growth"
echo
echo "goals (issue 17)"
goal() { printf '  %-52s %-14s %s\n' "$1" "$2" "$3"; }
met() { awk -v v="$1" -v lim="$2" 'BEGIN { print (v <= lim) ? "met" : "NOT met" }'; }
if [ -n "$d_med" ]; then
  ratio=$(awk -v b="$b_med" -v d="$d_med" 'BEGIN { printf "%.3f", b / d }')
  goal "run --rm: berth / docker <= 0.10" "$ratio" "$(met "$ratio" 0.10)"
else
  goal "run --rm: berth / docker <= 0.10" "-" "not measured (no Docker)"
fi
if [ -n "$r_med" ]; then
  ratio=$(awk -v b="$b_med" -v r="$r_med" 'BEGIN { printf "%.2f", b / r }')
  goal "run --rm: berth / runc (for reference)" "$ratio" ""
fi
goal "20 at once <= 500 ms" "$bb_med ms" "$(met "$bb_med" 500)"
goal "100 in a row <= 4000 ms" "$bs_med ms" "$(met "$bs_med" 4000)"
goal "a shim's PSS < 1024 kB" "$shim_med kB" "$(met "$shim_med" 1023)"
goal "daemon idle RSS < 15360 kB" "$idle_rss kB" "$(met "$idle_rss" 15359)"
