# Shared by the bench scripts (sourced): remove what a private berth daemon made on the host,
# given its bridge, iptables prefix and cgroup parent. Every step may find nothing to do.
remove_daemon_traces() {
  local bridge=$1 prefix=$2 cgroup_parent=$3
  ip link del "$bridge" 2>/dev/null || true
  remove_chains "$prefix"
  # cgroup v2: one directory at the top; v1: one per controller hierarchy. Children first.
  find /sys/fs/cgroup/"$cgroup_parent" /sys/fs/cgroup/*/"$cgroup_parent" -depth -type d \
    -exec rmdir {} + 2>/dev/null || true
  return 0
}

# Remove every jump into a chain named $1-* and every such chain, in each table: whatever
# rules that daemon made, read back from iptables-save rather than listed here.
remove_chains() {
  local own=$1- table line chain
  for table in raw nat filter; do
    iptables-save -t "$table" 2>/dev/null | grep -- "^-A .* -j $own" | grep -v -- "^-A $own" |
      while read -r line; do
        # shellcheck disable=SC2086 # the rule's words, as iptables-save printed them
        iptables -w -t "$table" -D ${line#-A } 2>/dev/null
      done || true
    for op in -F -X; do
      iptables-save -t "$table" 2>/dev/null | sed -n "s/^:\($own[^ ]*\).*/\1/p" |
        while read -r chain; do iptables -w -t "$table" "$op" "$chain" 2>/dev/null; done || true
    done
  done
  return 0
}

# Start a private daemon on $work (its exec root $exec_root if set) with the script's $berth,
# $bridge, $prefix and $cgroup_parent, the given subnet and any further daemon flags; sets $daemon and BERTH_HOST,
# and fails (with the daemon's log) unless it answers. $daemon is what the script's cleanup
# stops.
start_bench_daemon() {
  local subnet=$1
  shift
  export BERTH_HOST=unix://$work/berth.sock
  "$berth" daemon --root "$work/root" --exec-root "${exec_root:-$work/exec}" -H "$BERTH_HOST" --bridge "$bridge" \
    --iptables-prefix "$prefix" --default-subnet-pool "base=$subnet,size=24" \
    --cgroup-parent "$cgroup_parent" "$@" >"$work/daemon.log" 2>&1 &
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

# Start a private dockerd for a comparison, in a network namespace of its own (lo up), so its
# bridge and rules never touch the host's firewall: data and exec roots under $1, cgroups
# under parent $2. Sets $private_docker (its pid), exports DOCKER_HOST and DOCKER_CONFIG, and
# returns non-zero (with $docker_why) if it does not answer. stop_private_dockerd undoes it.
start_private_dockerd() {
  local dir=$1 parent=$2
  mkdir -p "$dir"
  unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh dockerd \
    --data-root "$dir/data" --exec-root "$dir/exec" \
    --pidfile "$dir/d.pid" -H "unix://$dir/d.sock" \
    --cgroup-parent "$parent" >"$dir/dockerd.log" 2>&1 &
  private_docker=$!
  export DOCKER_HOST=unix://$dir/d.sock DOCKER_CONFIG=$dir/config
  unset DOCKER_CONTEXT
  for _ in $(seq 150); do docker version >/dev/null 2>&1 && return 0; sleep 0.2; done
  docker_why="the private dockerd did not answer; its log ends: $(tail -5 "$dir/dockerd.log")"
  return 1
}

# Stop what start_private_dockerd started (dockerd stops its containers and its containerd
# on SIGTERM; its namespace goes with it) and remove its mounts and cgroups.
stop_private_dockerd() {
  local dir=$1 parent=$2
  [ -n "${private_docker:-}" ] || return 0
  kill "$private_docker" 2>/dev/null
  for _ in $(seq 200); do kill -0 "$private_docker" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$private_docker" 2>/dev/null
  wait "$private_docker" 2>/dev/null
  umount -R "$dir" 2>/dev/null
  find /sys/fs/cgroup/"$parent" /sys/fs/cgroup/*/"$parent" -depth -type d \
    -exec rmdir {} + 2>/dev/null
  private_docker=""
  return 0
}
