#!/usr/bin/env bash
# `just bench` (third part): the builder. A 3-step Dockerfile (FROM busybox, COPY a file, RUN a
# command) built cached and uncached through the docker CLI's classic builder, against berth
# and, when a Docker daemon answers, against Docker in the same run, interleaved; and sending a
# big context (BENCH_CONTEXT_MB, default 200, of random bytes) beside `tar | cat > /dev/null`
# of the same tree. Medians of BENCH_BUILD_RUNS runs (9). Runs as root; removes what it made.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
runs=${BENCH_BUILD_RUNS:-9}
context_mb=${BENCH_CONTEXT_MB:-200}
bridge=bbenchb0 prefix=BBENCHB cgroup_parent=berth-bench-build
fixture=target/fixtures/busybox.tar
cargo build --release -q
bash fixtures/busybox/build.sh "$fixture"
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-build.XXXXXX)
daemon=""
have_docker=""
cleanup() {
  set +e
  if [ -n "$daemon" ]; then
    # shellcheck disable=SC2046
    "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  if [ -n "$have_docker" ]; then
    DOCKER_HOST=unix:///var/run/docker.sock docker rmi -f berth-bench-build:c berth-bench-build:u >/dev/null 2>&1
  fi
  remove_daemon_traces "$bridge" "$prefix" "$cgroup_parent"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bench_daemon 10.213.252.0/24
"$berth" load -i "$fixture" >/dev/null
if command -v docker >/dev/null && DOCKER_HOST=unix:///var/run/docker.sock docker version >/dev/null 2>&1; then
  have_docker=1
  DOCKER_HOST=unix:///var/run/docker.sock docker load -i "$fixture" >/dev/null
fi
ctx=$work/ctx
mkdir -p "$ctx"
echo "a file to copy" >"$ctx/file.txt"
printf 'FROM busybox\nCOPY file.txt /file.txt\nRUN cat /file.txt > /copy\n' >"$ctx/Dockerfile"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
build_ms() { # host, extra args...
  local host=$1 t0
  shift
  t0=$(now_ms)
  DOCKER_BUILDKIT=0 DOCKER_HOST=$host docker build -q "$@" "$ctx" >/dev/null 2>&1
  echo $(($(now_ms) - t0))
}
bh=$BERTH_HOST dh=unix:///var/run/docker.sock
b_cached=() b_uncached=() d_cached=() d_uncached=()
build_ms "$bh" -t berth-bench-build:c >/dev/null
[ -n "$have_docker" ] && build_ms "$dh" -t berth-bench-build:c >/dev/null
for _ in $(seq "$runs"); do
  b_cached+=($(build_ms "$bh" -t berth-bench-build:c))
  b_uncached+=($(build_ms "$bh" --no-cache -t berth-bench-build:u))
  if [ -n "$have_docker" ]; then
    d_cached+=($(build_ms "$dh" -t berth-bench-build:c))
    d_uncached+=($(build_ms "$dh" --no-cache -t berth-bench-build:u))
  fi
done
row() { printf '%-40s %10s %10s %8s\n' "$@"; }
echo "build: FROM busybox, COPY a file, RUN a command; docker CLI, classic builder; median of $runs"
row "" "berth ms" "docker ms" "ratio"
ratio() { [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' || echo "-"; }
bc=$(median "${b_cached[@]}") bu=$(median "${b_uncached[@]}")
dc="" du=""
if [ -n "$have_docker" ]; then dc=$(median "${d_cached[@]}") du=$(median "${d_uncached[@]}"); fi
row "cached rebuild" "$bc" "${dc:--}" "$(ratio "$bc" "$dc")"
row "uncached (--no-cache)" "$bu" "${du:--}" "$(ratio "$bu" "$du")"

# Sending a big context: the client tars, the daemon unpacks into the build's directory.
big=$work/big
mkdir -p "$big"
for i in $(seq 10); do head -c $((context_mb * 100000)) /dev/urandom >"$big/part-$i"; done
printf 'FROM busybox\n' >"$big/Dockerfile"
sync
t0=$(now_ms)
tar -C "$big" -cf - . | cat >/dev/null
tar_ms=$(($(now_ms) - t0))
send=()
for _ in 1 2 3; do
  t0=$(now_ms)
  DOCKER_BUILDKIT=0 DOCKER_HOST=$bh docker build -q "$big" >/dev/null 2>&1
  send+=($(($(now_ms) - t0)))
done
sm=$(median "${send[@]}")
mbps() { awk -v mb="$context_mb" -v ms="$1" 'BEGIN { printf "%.0f", mb / (ms / 1000) }'; }
echo "context of $context_mb MB (random bytes): build of FROM busybox, median of 3"
row "" "ms" "MB/s" ""
row "berth: docker build (tar, send, unpack)" "$sm" "$(mbps "$sm")" ""
row "tar | cat > /dev/null" "$tar_ms" "$(mbps "$tar_ms")" ""
