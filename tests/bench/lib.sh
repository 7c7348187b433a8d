# Shared by the bench scripts (sourced): remove what a private berth daemon made on the host,
# given its bridge, iptables prefix and cgroup parent. Every step may find nothing to do.
remove_daemon_traces() {
  local bridge=$1 prefix=$2 cgroup_parent=$3 hook table chain
  ip link del "$bridge" 2>/dev/null
  for hook in nat:POSTROUTING filter:FORWARD; do
    table=${hook%%:*} chain=${hook#*:}
    iptables -w -t "$table" -D "$chain" -j "$prefix-$chain" 2>/dev/null
    iptables -w -t "$table" -F "$prefix-$chain" 2>/dev/null
    iptables -w -t "$table" -X "$prefix-$chain" 2>/dev/null
  done
  iptables -w -t nat -D PREROUTING -m addrtype --dst-type LOCAL -j "$prefix-DNAT" 2>/dev/null
  iptables -w -t nat -D OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j "$prefix-DNAT" 2>/dev/null
  iptables -w -t nat -F "$prefix-DNAT" 2>/dev/null
  iptables -w -t nat -X "$prefix-DNAT" 2>/dev/null
  for chain in ISOLATION-1 ISOLATION-2; do
    iptables -w -t filter -F "$prefix-$chain" 2>/dev/null
    iptables -w -t filter -X "$prefix-$chain" 2>/dev/null
  done
  # cgroup v2: one directory at the top; v1: one per controller hierarchy. Children first.
  find /sys/fs/cgroup/"$cgroup_parent" /sys/fs/cgroup/*/"$cgroup_parent" -depth -type d \
    -exec rmdir {} + 2>/dev/null
  return 0
}

# Start a private daemon on $work with the script's $berth, $bridge, $prefix and
# $cgroup_parent and the given subnet; sets $daemon and BERTH_HOST, and fails (with the
# daemon's log) unless it answers. $daemon is what the script's cleanup stops.
start_bench_daemon() {
  local subnet=$1
  export BERTH_HOST=unix://$work/berth.sock
  "$berth" daemon --root "$work/root" --exec-root "$work/exec" -H "$BERTH_HOST" --bridge "$bridge" \
    --iptables-prefix "$prefix" --default-subnet-pool "base=$subnet,size=24" \
    --cgroup-parent "$cgroup_parent" >"$work/daemon.log" 2>&1 &
  daemon=$!
  for _ in $(seq 100); do "$berth" version >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "bench: the daemon does not answer on $BERTH_HOST; its log ends:" >&2
  tail -20 "$work/daemon.log" >&2
  exit 1
}

# Every benchmark makes namespaces, bridges and cgroups: refuse to start without root.
needs_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "bench: needs root (sudo just bench)" >&2
    exit 1
  fi
}
