#!/usr/bin/env bash
# `just bench` (second part): `load` and `save` throughput of a large multi-layer image, beside
# `docker load`/`docker save` of the same archive when a Docker daemon answers, and the
# machine's limits: sequential disk writes (dd with fdatasync) and sha256 (openssl speed).
# Layers are unpacked as the archive streams in (configs and manifests are spooled), so load
# reads and writes each byte once. The image is busybox plus BENCH_LAYERS layers of random bytes
# (BENCH_IMAGE_MB in all, default 320), made by `commit`, so it compresses no better on disk
# than real data. Each measure is the median of BENCH_IMAGE_RUNS runs (5). Runs as root;
# removes what it made, also on failure.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
total_mb=${BENCH_IMAGE_MB:-320}
layers=${BENCH_LAYERS:-4}
runs=${BENCH_IMAGE_RUNS:-5}
for v in "$total_mb" "$layers" "$runs"; do
  case "$v" in '' | *[!0-9]* | 0)
    echo "bench: BENCH_IMAGE_MB, BENCH_LAYERS and BENCH_IMAGE_RUNS must be positive numbers" >&2
    exit 1
    ;;
  esac
done
bridge=bbenchi0 prefix=BBENCHI cgroup_parent=berth-bench-images
fixture=target/fixtures/busybox.tar
cargo build --release -q
bash fixtures/busybox/build.sh "$fixture"
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-images.XXXXXX)
daemon=""
docker_tag=berth-bench/big:latest

cleanup() {
  set +e
  if [ -n "$daemon" ]; then
    # shellcheck disable=SC2046 # one argument per id
    "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  if [ -n "${docker_loaded:-}" ]; then docker rmi "$docker_tag" >/dev/null 2>&1; fi
  remove_daemon_traces "$bridge" "$prefix" "$cgroup_parent"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_bench_daemon 10.213.251.0/24
"$berth" load -i "$fixture" >/dev/null

# The image: one commit per layer, each adding random bytes.
per_layer=$((total_mb / layers))
image=busybox
for i in $(seq "$layers"); do
  "$berth" run --name "bench-layer-$i" "$image" \
    sh -c "head -c $((per_layer * 1000000)) /dev/urandom > /data-$i" >/dev/null
  "$berth" commit "bench-layer-$i" "bench/big:$i" >/dev/null
  "$berth" rm "bench-layer-$i" >/dev/null
  image=bench/big:$i
done
"$berth" tag "$image" "$docker_tag"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
mbps() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f", (b / 1e6) / (ms / 1000) }'; }
row() { printf '%-44s %8s %8s %8s %8s\n' "$@"; }
# The median and the spread (min-max) of the numbers given.
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { printf '%s\n' "$@" | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# Each measure runs $runs times, interleaved, and the median is what counts: on a shared VM
# disk one run alone can be off by 2x either way.
archive=$work/big.tar
save_ms=() load_ms=() disk_ms=() read_ms=()
for _ in $(seq "$runs"); do
  # Both directions start from a cold cache: save reads the layers from disk and writes the
  # archive, load reads the archive and writes the layers, so the limit of each is a cold
  # read plus a write of the same bytes.
  rm -f "$archive"
  cold
  t0=$(now_ms)
  "$berth" save -o "$archive" "$docker_tag"
  sync
  save_ms+=($(($(now_ms) - t0)))
  bytes=$(stat -c %s "$archive")

  # Load into a fresh store: remove every image first (the layers go with them).
  # shellcheck disable=SC2046
  "$berth" rmi -f $("$berth" images -q) >/dev/null
  cold
  t0=$(now_ms)
  "$berth" load -i "$archive" >/dev/null
  sync
  load_ms+=($(($(now_ms) - t0)))

  # The machine's limits for the same number of bytes: a sequential write made durable, and
  # reading the archive back from a cold cache (what load must do before it writes anything).
  t0=$(now_ms)
  dd if=/dev/zero of="$work/dd" bs=1M count=$((bytes / 1048576)) conv=fdatasync status=none
  disk_ms+=($(($(now_ms) - t0)))
  rm -f "$work/dd"
  cold
  t0=$(now_ms)
  dd if="$archive" of=/dev/null bs=1M status=none
  read_ms+=($(($(now_ms) - t0)))
done
# sha256 as fast as this CPU does it: OpenSSL uses the SHA extensions where the CPU has them,
# as the sha2 crate does; coreutils' sha256sum does not, so it is the fallback only.
if command -v openssl >/dev/null; then
  sha_what="sha256 (openssl speed, 1 MiB blocks)"
  kbps=$(openssl speed -evp sha256 -seconds 1 -bytes 1048576 2>/dev/null | awk '/^sha256/ { sub(/k$/, "", $2); print $2 }')
  sha_ms=$(awk -v b="$bytes" -v k="$kbps" 'BEGIN { printf "%d", b / (k * 1000) * 1000 }')
else
  sha_what="sha256sum of the archive (cached)"
  cat "$archive" >/dev/null
  t0=$(now_ms)
  sha256sum "$archive" >/dev/null
  sha_ms=$(($(now_ms) - t0))
fi

echo "image: $layers layers of random bytes on busybox, archive $((bytes / 1000000)) MB; median of $runs runs"
row "" "ms" "MB/s" "min-max" ""
measure() {
  local what=$1
  shift
  local m
  m=$(median "$@")
  row "$what" "$m" "$(mbps "$bytes" "$m")" "$(spread "$@")" ""
}
measure "berth save -o (cold cache, then sync)" "${save_ms[@]}"
measure "berth load -i (cold cache, then sync)" "${load_ms[@]}"
measure "disk: dd of the same size, fdatasync" "${disk_ms[@]}"
measure "disk: dd reading the archive, cold cache" "${read_ms[@]}"
row "$sha_what" "$sha_ms" "$(mbps "$bytes" "$sha_ms")" "" ""
awk -v l="$(median "${load_ms[@]}")" -v r="$(median "${read_ms[@]}")" \
  -v w="$(median "${disk_ms[@]}")" -v s="$(median "${save_ms[@]}")" 'BEGIN {
  printf "load / (cold read + write) = %.2f   save / (cold read + write) = %.2f\n", l / (r + w), s / (r + w) }'
# The disk's limit is what it can do at best, and a shared disk's slow spells only hide it: the
# strict ratio holds berth's median to the fastest read plus the fastest write seen.
min() { printf '%s\n' "$@" | sort -n | head -1; }
awk -v l="$(median "${load_ms[@]}")" -v r="$(min "${read_ms[@]}")" \
  -v w="$(min "${disk_ms[@]}")" -v s="$(median "${save_ms[@]}")" 'BEGIN {
  printf "strict, against the fastest read + write seen: load %.2f   save %.2f\n", l / (r + w), s / (r + w) }'

if ! command -v docker >/dev/null || ! docker info >/dev/null 2>&1; then
  echo "docker: no Docker daemon answers${DOCKER_HOST:+ at $DOCKER_HOST}, skipped"
  exit 0
fi
dload_ms=() dsave_ms=()
for _ in $(seq "$runs"); do
  if [ -n "${docker_loaded:-}" ]; then docker rmi "$docker_tag" >/dev/null; fi
  cold
  t0=$(now_ms)
  docker load -i "$archive" >/dev/null
  sync
  dload_ms+=($(($(now_ms) - t0)))
  docker_loaded=1
  rm -f "$work/docker.tar"
  cold
  t0=$(now_ms)
  docker save -o "$work/docker.tar" "$docker_tag"
  sync
  dsave_ms+=($(($(now_ms) - t0)))
done
measure "docker save -o (cold cache, then sync)" "${dsave_ms[@]}"
measure "docker load -i (cold cache, then sync)" "${dload_ms[@]}"
