#!/usr/bin/env bash
# `just bench` (network part), berth beside Docker in the same run when a Docker daemon answers:
# - the embedded DNS: BENCH_DNS_QUERIES (1000) lookups of a container's name, and of a name the
#   resolver forwards, from inside a container on a user network (tests/bench/dns_probe.py, run
#   in the container's network namespace with nsenter, so both engines are measured by one
#   client); median and p99. Forwarded names go to a fake upstream resolver
#   (tests/bench/fake_upstream.py) in a network namespace the bench makes, at 198.18.0.2
#   (RFC 2544's benchmarking range) behind a veth from the host: both engines reach it as they
#   would reach a real server, and no query leaves the machine.
# - `network create` + `run --rm --network x busybox true` + `network rm`: BENCH_NET_RUNS (10).
# Runs as root; removes what it made.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
queries=${BENCH_DNS_QUERIES:-1000}
runs=${BENCH_NET_RUNS:-10}
bridge=bbenchn0 prefix=BBENCHN cgroup_parent=berth-bench-network
upstream_addr=198.18.0.2 upstream_ns=berth-bench-upstream
fixture=target/fixtures/busybox.tar
cargo build --release -q
bash fixtures/busybox/build.sh "$fixture"
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-network.XXXXXX)
daemon="" upstream="" docker_made=""

cleanup() {
  set +e
  if [ -n "$daemon" ]; then
    # shellcheck disable=SC2046 # one argument per id
    "$berth" rm -f $("$berth" ps -aq) >/dev/null 2>&1
    "$berth" network rm bench-dns >/dev/null 2>&1
    kill "$daemon" 2>/dev/null
    wait "$daemon" 2>/dev/null
  fi
  if [ -n "$docker_made" ]; then
    docker rm -f bench-dns-target bench-dns-asker >/dev/null 2>&1
    docker network rm bench-dns >/dev/null 2>&1
  fi
  [ -n "$upstream" ] && kill "$upstream" 2>/dev/null
  ip link del bbnu0 2>/dev/null
  ip netns del "$upstream_ns" 2>/dev/null
  remove_daemon_traces "$bridge" "$prefix" "$cgroup_parent"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$upstream_ns"
ip link add bbnu0 type veth peer name bbnu1 netns "$upstream_ns"
ip addr add 198.18.0.1/30 dev bbnu0
ip link set bbnu0 up
ip -n "$upstream_ns" addr add "$upstream_addr/30" dev bbnu1
ip -n "$upstream_ns" link set bbnu1 up
ip -n "$upstream_ns" link set lo up
ip -n "$upstream_ns" route add default via 198.18.0.1
ip netns exec "$upstream_ns" python3 tests/bench/fake_upstream.py "$upstream_addr" &
upstream=$!
start_bench_daemon 10.214.0.0/16
"$berth" load -i "$fixture" >/dev/null
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
row() { printf '%-52s %12s %12s\n' "$@"; }

# One engine's DNS figures: "local-median local-p99 local-answered fwd-median fwd-p99 fwd-answered".
dns_figures() { # client
  local c=$1 pid
  "$c" network create bench-dns >/dev/null
  "$c" run -d --name bench-dns-target --network bench-dns busybox sleep 1d >/dev/null
  "$c" run -d --name bench-dns-asker --network bench-dns --dns "$upstream_addr" busybox sleep 1d >/dev/null
  pid=$("$c" inspect -f '{{.State.Pid}}' bench-dns-asker)
  # Warm both paths (the first forwarded query opens the resolver's upstream socket).
  nsenter -t "$pid" -n python3 tests/bench/dns_probe.py 127.0.0.11 bench-dns-target 10 >/dev/null
  nsenter -t "$pid" -n python3 tests/bench/dns_probe.py 127.0.0.11 forwarded.bench.test 10 >/dev/null
  echo "$(nsenter -t "$pid" -n python3 tests/bench/dns_probe.py 127.0.0.11 bench-dns-target "$queries")" \
    "$(nsenter -t "$pid" -n python3 tests/bench/dns_probe.py 127.0.0.11 forwarded.bench.test "$queries")"
  "$c" rm -f bench-dns-target bench-dns-asker >/dev/null
  "$c" network rm bench-dns >/dev/null
}

net_cycle() { # client, run index -> microseconds for create + run --rm + rm
  local t0
  t0=$(now_us)
  "$1" network create "bench-net-$2" >/dev/null
  "$1" run --rm --network "bench-net-$2" busybox true >/dev/null
  "$1" network rm "bench-net-$2" >/dev/null
  echo $(($(now_us) - t0))
}

read -r bl bl99 bla bf bf99 bfa <<<"$(dns_figures "$berth")"
bcycle=()
for i in $(seq "$runs"); do bcycle+=("$(net_cycle "$berth" "$i")"); done

docker_ok=""
if docker version >/dev/null 2>&1; then
  docker_ok=yes
  docker_made=yes
  if ! docker image inspect busybox:latest >/dev/null 2>&1; then docker load -i "$fixture" >/dev/null; fi
  read -r dl dl99 dla df df99 dfa <<<"$(dns_figures docker)"
  dcycle=()
  for i in $(seq "$runs"); do dcycle+=("$(net_cycle docker "$i")"); done
fi

echo
echo "network: $queries DNS lookups each from inside a container (µs), $runs network cycles (ms)"
row "measure" "berth" "docker"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }'; }
if [ -n "$docker_ok" ]; then
  row "container name: median / p99 (µs)" "$bl / $bl99" "$dl / $dl99"
  row "  answered (of $queries)" "$bla" "$dla"
  row "  berth / docker (median)" "$(ratio "$bl" "$dl")" ""
  row "forwarded name: median / p99 (µs)" "$bf / $bf99" "$df / $df99"
  row "  answered (of $queries)" "$bfa" "$dfa"
  row "  berth / docker (median)" "$(ratio "$bf" "$df")" ""
  bc=$(median "${bcycle[@]}") dc=$(median "${dcycle[@]}")
  row "network create + run --rm --network + rm (ms)" "$((bc / 1000))" "$((dc / 1000))"
  row "  berth / docker" "$(ratio "$bc" "$dc")" ""
else
  row "container name: median / p99 (µs)" "$bl / $bl99" "-"
  row "  answered (of $queries)" "$bla" "-"
  row "forwarded name: median / p99 (µs)" "$bf / $bf99" "-"
  row "  answered (of $queries)" "$bfa" "-"
  row "network create + run --rm --network + rm (ms)" "$(($(median "${bcycle[@]}") / 1000))" "-"
  echo "(no Docker daemon answers: Docker's figures left out)"
fi
