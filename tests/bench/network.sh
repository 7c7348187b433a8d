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
# - throughput through a published port: a TCP sink in a container (tests/bench/sink.c, bind
#   mounted) published on 127.0.0.1:BENCH_NET_PORT (19000); a sender on the engine's host
#   (tests/bench/sender.c, 256 KiB writes) pushes BENCH_NET_MB (2048) MiB to the published port
#   and to the container's own address (the "direct" baseline), BENCH_NET_REPS (3) times each;
#   the median MB/s and published / direct.
# - the cost of published ports: one container with BENCH_NET_PORTS (1000) ports published on
#   127.0.0.1 (20000 up, below the ephemeral range), against one without: the processes the
#   engine added (counted by executable, not assumed), their RSS and PSS, the daemon's RSS,
#   the kernel's unreclaimable memory (SUnreclaim + KernelStack + PageTables, which holds
#   sockets, rules and the new processes' stacks and page tables), per port; and how long the
#   `run -d` took.
# Docker: the daemon DOCKER_HOST (or /var/run/docker.sock) names if it answers; else, with
# dockerd installed, a private one the bench starts inside its own network namespace (its own
# data root, bridge and rules, so the host's firewall is untouched; the bench's senders enter
# that namespace); BENCH_NET_DOCKER=0 leaves Docker out.
# Runs as root; removes what it made, also on failure.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
# shellcheck source=tests/bench/lib.sh
source tests/bench/lib.sh
needs_root
queries=${BENCH_DNS_QUERIES:-1000}
runs=${BENCH_NET_RUNS:-10}
mib=${BENCH_NET_MB:-2048}
reps=${BENCH_NET_REPS:-3}
port=${BENCH_NET_PORT:-19000}
nports=${BENCH_NET_PORTS:-1000}
for v in queries runs mib reps port nports; do
  case "${!v}" in '' | *[!0-9]* | 0)
    echo "bench: $v must be a positive number, not '${!v}'" >&2
    exit 1
    ;;
  esac
done
first_port=20000 last_port=$((20000 + nports - 1))
if [ "$last_port" -ge "$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range)" ]; then
  echo "bench: ports $first_port-$last_port reach the ephemeral range; lower BENCH_NET_PORTS" >&2
  exit 1
fi
bridge=bbenchn0 prefix=BBENCHN cgroup_parent=berth-bench-network
upstream_addr=198.18.0.2 upstream_ns=berth-bench-upstream
fixture=target/fixtures/busybox.tar
cargo build --release -q
bash fixtures/busybox/build.sh "$fixture"
berth=$PWD/target/release/berth
work=$(mktemp -d /var/tmp/berth-bench-network.XXXXXX)
daemon="" upstream="" docker_made="" private_docker=""
# Docker's host: empty for a system daemon; `nsenter` into a private one's namespace.
in_docker_host=()

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
    docker rm -f bench-dns-target bench-dns-asker bench-sink bench-noports bench-ports >/dev/null 2>&1
    docker network rm bench-dns >/dev/null 2>&1
  fi
  stop_private_dockerd "$work/docker" berth-bench-network-docker
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
if [ "${BENCH_NET_DOCKER:-1}" = 0 ]; then
  docker_why="BENCH_NET_DOCKER=0"
elif ! command -v docker >/dev/null; then
  docker_why="no docker CLI"
elif docker version >/dev/null 2>&1; then
  docker_ok=yes
elif command -v dockerd >/dev/null; then
  # A private dockerd in a network namespace of its own, with lo up (docker-proxy binds
  # 127.0.0.1 there). A second veth from that namespace reaches the fake upstream, so
  # Docker's resolver forwards to it as berth's does.
  if start_private_dockerd "$work/docker" berth-bench-network-docker; then
    docker_ok=yes
    in_docker_host=(nsenter -t "$private_docker" -n)
    ip link add bbnd0 type veth peer name bbnd1 netns "$upstream_ns"
    ip link set bbnd0 netns "/proc/$private_docker/ns/net"
    "${in_docker_host[@]}" ip addr add 198.18.0.5/30 dev bbnd0
    "${in_docker_host[@]}" ip link set bbnd0 up
    "${in_docker_host[@]}" ip route add "$upstream_addr/32" via 198.18.0.6
    ip -n "$upstream_ns" addr add 198.18.0.6/30 dev bbnd1
    ip -n "$upstream_ns" link set bbnd1 up
  fi
else
  docker_why="no Docker daemon answers and dockerd is not installed"
fi
if [ -n "$docker_ok" ]; then
  docker_made=yes
  if ! docker image inspect busybox:latest >/dev/null 2>&1; then docker load -i "$fixture" >/dev/null; fi
  read -r dl dl99 dla df df99 dfa <<<"$(dns_figures docker)"
  dcycle=()
  for i in $(seq "$runs"); do dcycle+=("$(net_cycle docker "$i")"); done
fi

# Throughput through a published port, against the container's own address.
gcc -O2 -static -o "$work/sink" tests/bench/sink.c
gcc -O2 -o "$work/sender" tests/bench/sender.c
median_of_reps() { # ip port [prefix command...] -> median MB/s of $reps transfers
  local ip=$1 p=$2 out=()
  shift 2
  for _ in $(seq "$reps"); do out+=("$("$@" "$work/sender" "$ip" "$p" "$mib")"); done
  median "${out[@]}"
}
throughput() { # client, prefix command... -> "published direct"
  local c=$1 ip
  shift
  "$c" run -d --name bench-sink -p "127.0.0.1:$port:9000" -v "$work/sink:/sink:ro" \
    busybox /sink 9000 >/dev/null
  ip=$("$c" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' bench-sink)
  for _ in $(seq 50); do "$@" "$work/sender" "$ip" 9000 1 >/dev/null 2>&1 && break; sleep 0.1; done
  echo "$(median_of_reps 127.0.0.1 "$port" "$@")" "$(median_of_reps "$ip" 9000 "$@")"
  "$c" rm -f bench-sink >/dev/null
}
read -r bpub bdir <<<"$(throughput "$berth")"
if [ -n "$docker_ok" ]; then read -r dpub ddir <<<"$(throughput docker "${in_docker_host[@]}")"; fi

# The cost of published ports: one container with $nports of them against one without.
census() { python3 tests/bench/procs.py "$@"; }
kernel_kb() { awk '/^(SUnreclaim|KernelStack|PageTables):/ { k += $2 } END { print k }' /proc/meminfo; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
# Sum of the third and second columns of processes in $2 (after) but not in $1 (before),
# less those in $1 but not in $2: "processes rss pss" that the change added.
census_delta() {
  awk 'NR == FNR { b[$1] = $2 " " $3; next } { a[$1] = $2 " " $3 }
    END { n = 0; r = 0; p = 0
      for (k in a) if (!(k in b)) { split(a[k], v, " "); n++; r += v[1]; p += v[2] }
      for (k in b) if (!(k in a)) { split(b[k], v, " "); n--; r -= v[1]; p -= v[2] }
      print n, r, p }' "$1" "$2"
}
port_cost() { # client daemon-pid executables... -> "procs rss pss daemon kernel run_ms base_ms"
  local c=$1 dpid=$2 t0 t1 t2 d0 k0
  shift 2
  t0=$(now_us)
  "$c" run -d --name bench-noports busybox sleep 1d >/dev/null
  t1=$(now_us)
  sleep 1
  census "$@" >"$work/census.before"
  d0=$(rss_of "$dpid") k0=$(kernel_kb)
  "$c" rm -f bench-noports >/dev/null
  t2=$(now_us)
  "$c" run -d --name bench-ports -p "127.0.0.1:$first_port-$last_port:$first_port-$last_port" \
    busybox sleep 1d >/dev/null
  t3=$(now_us)
  sleep 2
  census "$@" >"$work/census.after"
  echo "$(census_delta "$work/census.before" "$work/census.after")" \
    $(($(rss_of "$dpid") - d0)) $(($(kernel_kb) - k0)) $(((t3 - t2) / 1000)) $(((t1 - t0) / 1000))
  # Docker 20.10 can time out killing a container while it stops a thousand docker-proxies
  # ("could not kill running container"); the second try finds it gone or dying.
  "$c" rm -f bench-ports >/dev/null 2>&1 || { sleep 5; "$c" rm -f bench-ports >/dev/null; }
}
read -r bp_n bp_rss bp_pss bp_d bp_k bp_ms bp_base <<<"$(port_cost "$berth" "$daemon" "$berth")"
if [ -n "$docker_ok" ]; then
  dockerd_pid=${private_docker:-$(cat /var/run/docker.pid 2>/dev/null || echo 0)}
  docker_exes=()
  for e in dockerd docker-proxy containerd containerd-shim-runc-v2 runc; do
    command -v "$e" >/dev/null && docker_exes+=("$(command -v "$e")")
  done
  read -r dp_n dp_rss dp_pss dp_d dp_k dp_ms dp_base <<<"$(port_cost docker "$dockerd_pid" "${docker_exes[@]}")"
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
  echo "(Docker left out: $docker_why)"
fi

echo
echo "throughput: $mib MiB from the host to a sink in a container, median of $reps (MB/s)"
pct() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.0f%%", 100*a/b; else print "-" }'; }
row "measure" "berth" "docker"
row "to 127.0.0.1:$port (published)" "$bpub" "${dpub:--}"
row "to the container's address (direct)" "$bdir" "${ddir:--}"
row "  published / direct (goal: 95%)" "$(pct "$bpub" "$bdir")" "$( [ -n "$docker_ok" ] && pct "$dpub" "$ddir" || echo -)"
[ -n "$docker_ok" ] && row "  berth / docker (published)" "$(ratio "$bpub" "$dpub")" ""

echo
echo "published ports: a container with $nports ports on 127.0.0.1 ($first_port-$last_port), against one with none"
row "measure" "berth" "docker"
per() { awk -v t="$1" -v n="$nports" 'BEGIN{ printf "%.1f", t/n }'; }
row "processes the engine added" "$bp_n" "${dp_n:--}"
row "  their RSS (kB)" "$bp_rss" "${dp_rss:--}"
row "  their PSS (kB)" "$bp_pss" "${dp_pss:--}"
row "daemon RSS delta (kB)" "$bp_d" "${dp_d:--}"
row "kernel delta (kB, SUnreclaim+KernelStack+PageTables)" "$bp_k" "${dp_k:--}"
bt=$((bp_pss + bp_d + bp_k))
row "total: PSS + daemon + kernel (kB)" "$bt" "$( [ -n "$docker_ok" ] && echo $((dp_pss + dp_d + dp_k)) || echo -)"
row "  per port (kB)" "$(per "$bt")" "$( [ -n "$docker_ok" ] && per $((dp_pss + dp_d + dp_k)) || echo -)"
row "run -d with $nports ports (ms)" "$bp_ms" "${dp_ms:--}"
row "run -d with none (ms)" "$bp_base" "${dp_base:--}"
[ -n "$docker_ok" ] && row "  berth / docker (run -d with ports)" "$(ratio "$bp_ms" "$dp_ms")" ""
echo "(kernel figures are machine-wide: other work on the machine adds noise)"
