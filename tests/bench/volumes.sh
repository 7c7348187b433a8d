#!/usr/bin/env bash
# `just bench` (volumes part): the start latency of `run --rm -v vol:/data busybox true` beside
# the same run without a volume (the goal: within 5 ms), and copy-up of a BENCH_COPYUP_MB (100)
# directory of the image into a new volume beside `cp -a` of the same tree on the same disk;
# Docker's figures for both in the same run when a Docker daemon answers. Medians of
# BENCH_VOLUME_RUNS (20 for starts, 5 for copy-ups). Runs as root; removes what it made.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
runs=${BENCH_VOLUME_RUNS:-20}
copy_mb=${BENCH_COPYUP_MB:-100}
bridge=bbenchv0 prefix=BBENCHV cgroup_parent=berth-bench-volumes
fixture=target/fixtures/busybox.tar
cargo build --release -q
bash fixtures/busybox/build.sh "$fixture"
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-volumes.XXXXXX)
daemon=""
docker_image=""

cleanup() {
  set +e
  if [ -n "$daemon" ]; then
    # shellcheck disable=SC2046 # one argument per id
    "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1
    "$berth" volume prune -af >/dev/null 2>&1
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  if [ -n "$docker_image" ]; then
    docker volume rm bench-vol >/dev/null 2>&1
    docker rmi "$docker_image" >/dev/null 2>&1
  fi
  remove_daemon_traces "$bridge" "$prefix" "$cgroup_parent"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bench_daemon 10.213.250.0/24
"$berth" load -i "$fixture" >/dev/null
now_ms() { echo $(($(date +%s%N) / 1000000)); }
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
row() { printf '%-46s %10s %12s\n' "$@"; }

# Start latency, interleaved so that drift hits both alike.
start_times() { # client, with_volume -> one run's microseconds
  local t0
  t0=$(now_us)
  if [ "$2" = yes ]; then "$1" run --rm -v bench-vol:/data busybox true >/dev/null; else "$1" run --rm busybox true >/dev/null; fi
  echo $(($(now_us) - t0))
}
"$berth" volume create bench-vol >/dev/null
"$berth" run --rm -v bench-vol:/data busybox true >/dev/null
plain=() withvol=()
for _ in $(seq "$runs"); do
  plain+=("$(start_times "$berth" no)")
  withvol+=("$(start_times "$berth" yes)")
done

docker_ok=""
if docker version >/dev/null 2>&1; then
  docker_ok=yes
  docker_image=busybox:latest
  if ! docker image inspect busybox:latest >/dev/null 2>&1; then docker load -i "$fixture" >/dev/null; fi
  docker volume create bench-vol >/dev/null
  dplain=() dwithvol=()
  for _ in $(seq "$runs"); do
    dplain+=("$(start_times docker no)")
    dwithvol+=("$(start_times docker yes)")
  done
  docker_image=""
fi

# Copy-up: an image whose /payload holds copy_mb of files (100 of them, random bytes).
"$berth" run --name bench-payload busybox sh -c \
  "mkdir /payload && for i in \$(seq 100); do head -c $((copy_mb * 10000)) /dev/urandom > /payload/f\$i; done" >/dev/null
"$berth" commit bench-payload bench/payload >/dev/null
"$berth" rm bench-payload >/dev/null
tree=$(mktemp -d "$work/tree.XXXXXX")
"$berth" create --name bench-src bench/payload >/dev/null
"$berth" cp bench-src:/payload "$tree/" >/dev/null 2>&1
"$berth" rm bench-src >/dev/null
copy_runs=$(( runs < 5 ? runs : 5 ))
cu=() cpa=()
for i in $(seq "$copy_runs"); do
  sync
  t0=$(now_ms)
  "$berth" create --name "bench-cu-$i" -v "bench-cu-$i:/payload" bench/payload >/dev/null
  cu+=($(($(now_ms) - t0)))
  sync
  t0=$(now_ms)
  cp -a "$tree/payload" "$work/cp-$i"
  cpa+=($(($(now_ms) - t0)))
  rm -rf "$work/cp-$i"
  "$berth" rm -v "bench-cu-$i" >/dev/null
  "$berth" volume rm "bench-cu-$i" >/dev/null
done
# The same create without a volume, to take the create itself out of the copy-up's time.
bare=()
for i in $(seq "$copy_runs"); do
  t0=$(now_ms)
  "$berth" create --name "bench-bare-$i" bench/payload >/dev/null
  bare+=($(($(now_ms) - t0)))
  "$berth" rm "bench-bare-$i" >/dev/null
done

dcu=() dbare=()
if [ -n "$docker_ok" ]; then
  "$berth" save bench/payload | docker load >/dev/null
  docker_image=bench/payload:latest
  for i in $(seq "$copy_runs"); do
    sync
    t0=$(now_ms)
    docker create --name "bench-cu-$i" -v "bench-cu-$i:/payload" bench/payload >/dev/null
    dcu+=($(($(now_ms) - t0)))
    docker rm -v "bench-cu-$i" >/dev/null
    docker volume rm "bench-cu-$i" >/dev/null 2>&1 || true
    t0=$(now_ms)
    docker create --name "bench-bare-$i" bench/payload >/dev/null
    dbare+=($(($(now_ms) - t0)))
    docker rm "bench-bare-$i" >/dev/null
  done
fi

echo
echo "volumes: $runs starts each, $copy_runs copy-ups of ${copy_mb} MB (medians, spread in brackets)"
row "measure" "median" "spread"
row "berth run --rm busybox true (ms)" "$(median "${plain[@]}" | awk '{printf "%.1f", $1/1000}')" "$(spread "${plain[@]}")us"
row "berth run --rm -v vol:/data busybox true (ms)" "$(median "${withvol[@]}" | awk '{printf "%.1f", $1/1000}')" "$(spread "${withvol[@]}")us"
delta=$(( $(median "${withvol[@]}") - $(median "${plain[@]}") ))
row "  the volume's cost (ms; goal: within 5)" "$(awk -v d="$delta" 'BEGIN{printf "%.1f", d/1000}')" ""
if [ -n "$docker_ok" ]; then
  row "docker run --rm busybox true (ms)" "$(median "${dplain[@]}" | awk '{printf "%.1f", $1/1000}')" "$(spread "${dplain[@]}")us"
  row "docker run --rm -v vol:/data busybox true (ms)" "$(median "${dwithvol[@]}" | awk '{printf "%.1f", $1/1000}')" "$(spread "${dwithvol[@]}")us"
  ddelta=$(( $(median "${dwithvol[@]}") - $(median "${dplain[@]}") ))
  row "  the volume's cost with docker (ms)" "$(awk -v d="$ddelta" 'BEGIN{printf "%.1f", d/1000}')" ""
else
  echo "(no Docker daemon answers: Docker's figures left out)"
fi
cu_ms=$(( $(median "${cu[@]}") - $(median "${bare[@]}") ))
cp_ms=$(median "${cpa[@]}")
row "copy-up of ${copy_mb} MB into a new volume (ms)" "$cu_ms" "$(spread "${cu[@]}")ms with create"
row "cp -a of the same tree (ms)" "$cp_ms" "$(spread "${cpa[@]}")ms"
row "  copy-up / cp -a" "$(awk -v a="$cu_ms" -v b="$cp_ms" 'BEGIN{printf "%.2f", a/b}')" ""
if [ -n "$docker_ok" ]; then
  dcu_ms=$(( $(median "${dcu[@]}") - $(median "${dbare[@]}") ))
  row "docker: copy-up of the same directory (ms)" "$dcu_ms" "$(spread "${dcu[@]}")ms with create"
fi
