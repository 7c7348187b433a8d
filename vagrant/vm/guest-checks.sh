#!/usr/bin/env bash
# The cgroup-v2 subset of the e2e checks, run inside the smoke VM (vagrant/vm/smoke.sh) as
# root, from the read-only share that holds `berth`, `busybox.tar` and this script. It starts
# a daemon of its own, runs containers with berth's CLI, and reads their cgroups both from
# inside and from /sys/fs/cgroup. Every check prints PASS or FAIL with what it saw; the exit
# status is the number of failures (0: all passed).
#
#   guest-checks.sh SHARE_DIR
set -uo pipefail

share=${1:?usage: guest-checks.sh SHARE_DIR}
berth=$share/berth
work=/var/lib/berth-smoke
sock=unix:///run/berth-smoke.sock
export BERTH_HOST=$sock
parent='berth-smoke'
cgroot=/sys/fs/cgroup
failed=0 passed=0 daemon=

say() { echo "[$(cut -d' ' -f1 /proc/uptime)s] $*"; }
pass() { passed=$((passed + 1)); say "PASS $1"; }
fail() { failed=$((failed + 1)); say "FAIL $1: $2"; }
# expect NAME WANT GOT: equal strings pass.
expect() {
  if [ "$2" = "$3" ]; then pass "$1 ($3)"; else fail "$1" "want '$2', got '$3'"; fi
}
# Every CLI call has a time limit, so a hang is a FAIL with the daemon's log, not a stall
# until the host's overall timeout.
b() {
  timeout 120 "$berth" "$@"
  local rc=$?
  [ "$rc" -ne 124 ] || echo "TIMEOUT (120 s): berth $*" >&2
  return "$rc"
}

start_daemon() {
  "$berth" daemon --root "$work/root" --exec-root /run/berth-smoke -H "$sock" \
    --bridge berthsmoke0 --iptables-prefix BSMOKE --cgroup-parent "$parent" \
    >> "$work/daemon.log" 2>&1 &
  daemon=$!
  for _ in $(seq 200); do b version > /dev/null 2>&1 && return 0; sleep 0.1; done
  say "the daemon did not answer in 20s:"; tail -20 "$work/daemon.log"
  return 1
}

mkdir -p "$work"
: > "$work/daemon.log"
say "berth $(stat -c %s "$berth") bytes; kernel $(uname -r); $(nproc) cpus; $(grep MemTotal /proc/meminfo | tr -s ' ')"

# 0. The guest runs the unified hierarchy only, with the controllers berth uses.
expect "cgroup v2 only: /sys/fs/cgroup is cgroup2fs" cgroup2fs "$(stat -fc %T $cgroot)"
expect "no v1 hierarchy mounted" 0 "$(grep -c ' cgroup ' /proc/mounts)"
say "root controllers: $(cat $cgroot/cgroup.controllers)"

if ! start_daemon; then
  fail "daemon starts" "see the log above"
  exit 1
fi
pass "daemon starts"
if out=$(b load -i "$share/busybox.tar" 2>&1); then pass "load busybox ($out)"; else fail "load busybox" "$out"; fi

# 1. Limits written where the container sees them (its cgroup namespace root).
out=$(b run --rm -m 32m --pids-limit 20 --cpus 0.5 --cpu-shares 512 busybox sh -c \
  'cd /sys/fs/cgroup && cat memory.max pids.max cpu.max cpu.weight' 2>&1 | tr '\n' '|')
# runc's conversion: weight = 1 + (shares - 2) * 9999 / 262142, so 512 shares are weight 20.
expect "-m 32m --pids-limit 20 --cpus 0.5 --cpu-shares 512 inside" \
  "33554432|20|50000 100000|20|" "$out"
out=$(b run --rm --cpu-period 50000 --cpu-quota 20000 busybox cat /sys/fs/cgroup/cpu.max 2>&1)
expect "--cpu-period 50000 --cpu-quota 20000 as cpu.max" "20000 50000" "$out"
out=$(b run --rm busybox sh -c 'cat /sys/fs/cgroup/cpu.max /sys/fs/cgroup/memory.max' 2>&1 | tr '\n' '|')
expect "no limits: cpu.max and memory.max say max" "max 100000|max|" "$out"
if out=$(b run --rm busybox sh -c 'echo x > /sys/fs/cgroup/x' 2>&1); then
  fail "the cgroup is read-only inside" "the write succeeded"
else
  pass "the cgroup is read-only inside ($out)"
fi

# 2. The same files on the host, under the daemon's parent; the processes are in it.
cid=$(b run -d --name limited -m 48m --pids-limit 7 --cpus 1.5 --cpu-shares 1024 --cpuset-cpus 1 \
  busybox sleep 300 2>&1)
dir=$cgroot/$parent/$cid
if [ -d "$dir" ]; then
  pass "cgroup $parent/${cid:0:12} exists on the host"
  expect "host memory.max" 50331648 "$(cat "$dir/memory.max")"
  expect "host pids.max" 7 "$(cat "$dir/pids.max")"
  expect "host cpu.max" "150000 100000" "$(cat "$dir/cpu.max")"
  expect "host cpu.weight (1024 shares)" 39 "$(cat "$dir/cpu.weight")"
  expect "host cpuset.cpus" 1 "$(cat "$dir/cpuset.cpus")"
  expect "host cpuset.cpus.effective" 1 "$(cat "$dir/cpuset.cpus.effective")"
  pid=$(b inspect -f '{{.State.Pid}}' limited)
  if grep -qx "$pid" "$dir/cgroup.procs"; then
    pass "the container's pid $pid is in its cgroup.procs"
  else
    fail "the container's pid is in its cgroup.procs" "pid $pid, procs: $(tr '\n' ' ' < "$dir/cgroup.procs")"
  fi
  say "$parent/cgroup.subtree_control: $(cat "$cgroot/$parent/cgroup.subtree_control")"
  for c in cpuset cpu memory pids; do
    if tr ' ' '\n' < "$cgroot/$parent/cgroup.subtree_control" | grep -qx "$c"; then
      pass "the parent $parent delegates $c"
    else
      fail "the parent $parent delegates $c" "subtree_control: $(cat "$cgroot/$parent/cgroup.subtree_control")"
    fi
  done
else
  fail "cgroup of the container on the host" "no $dir (run said: $cid)"
fi
out=$(b exec limited grep Cpus_allowed_list /proc/self/status 2>&1 | tr -s '\t ' ' ')
expect "--cpuset-cpus 1: the container runs on CPU 1 only" "Cpus_allowed_list: 1" "$out"
b rm -f limited > /dev/null 2>&1
if [ -e "$dir" ]; then fail "rm -f removes the cgroup" "$dir is still there"; else pass "rm -f removes the cgroup"; fi

# 3. The memory limit is enforced: an OOM kill is exit 137 and State.OOMKilled.
b run --name hog -m 16m --memory-swap 16m busybox tail /dev/zero > /dev/null 2>&1
expect "OOM kill: exit code of run" 137 "$?"
expect "OOM kill: State.OOMKilled and ExitCode" "true 137" \
  "$(b inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' hog 2>&1)"
b rm hog > /dev/null 2>&1
b run --name calm -m 16m busybox true > /dev/null 2>&1
expect "no OOM: State.OOMKilled false" "false 0" \
  "$(b inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' calm 2>&1)"
b rm calm > /dev/null 2>&1

# 4. The pids limit is enforced: forks fail beyond it.
out=$(b run --rm --pids-limit 5 busybox sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait' 2>&1)
case $out in
  *"can't fork"* | *"Resource temporarily unavailable"*) pass "--pids-limit 5: the fork beyond fails" ;;
  *) fail "--pids-limit 5: the fork beyond fails" "output: $out" ;;
esac

# 5. pause/unpause: cgroup.freeze, and the processes really stop.
cid=$(b run -d --name ticker busybox sh -c 'while true; do echo tick; sleep 0.1; done' 2>&1)
dir=$cgroot/$parent/$cid
sleep 1
out=$(b pause ticker 2>&1)
expect "pause" ticker "$out"
expect "pause: cgroup.freeze" 1 "$(cat "$dir/cgroup.freeze" 2>&1)"
expect "pause: cgroup.events says frozen" "frozen 1" "$(grep frozen "$dir/cgroup.events" 2>&1)"
expect "pause: State.Status" paused "$(b inspect -f '{{.State.Status}}' ticker 2>&1)"
n1=$(b logs ticker 2>&1 | wc -l)
sleep 1.5
n2=$(b logs ticker 2>&1 | wc -l)
expect "paused: no output while frozen" "$n1" "$n2"
if out=$(b exec ticker true 2>&1); then
  fail "exec into a paused container is refused" "it ran"
else
  pass "exec into a paused container is refused ($out)"
fi
out=$(b unpause ticker 2>&1)
expect "unpause" ticker "$out"
expect "unpause: cgroup.events says thawed" "frozen 0" "$(grep frozen "$dir/cgroup.events" 2>&1)"
sleep 1.5
n3=$(b logs ticker 2>&1 | wc -l)
if [ "$n3" -gt "$n2" ]; then
  pass "unpaused: output again ($n2 -> $n3 lines)"
else
  fail "unpaused: output again" "$n2 -> $n3 lines"
fi
b pause ticker > /dev/null 2>&1
b rm -f ticker > /dev/null 2>&1
expect "a paused container can be removed" "" "$(b ps -aq --filter name=ticker 2>&1)"

# 6. Devices: the eBPF program allows Docker's default nodes and denies the rest.
out=$(b run --rm busybox sh -c 'head -c3 /dev/zero | wc -c; echo hi > /dev/null && echo null-ok' 2>&1 | tr '\n' '|')
expect "default devices: /dev/zero and /dev/null open" "3|null-ok|" "$out"
# mknod is allowed for every node (c *:* m, b *:* m); opening one outside the rules is not.
# Each node is one a container's root could open without the program: /dev/kmsg for writing
# needs no capability (reading it needs CAP_SYSLOG, so a read would fail even with no
# program), and the guest's own disk is readable by root.
out=$(b run --rm busybox sh -c 'mknod /tmp/kmsg c 1 11 && echo made && echo berth-smoke > /tmp/kmsg && echo written' 2>&1)
case $out in
  made*"Operation not permitted"*) pass "device program: mknod 1:11 allowed, opening it denied" ;;
  *) fail "device program: mknod 1:11 allowed, opening it denied" "output: $out" ;;
esac
disk=$(cat /sys/block/vda/dev 2>/dev/null || echo 254:0)
read_disk="mknod /tmp/disk b ${disk%:*} ${disk#*:} && dd if=/tmp/disk of=/dev/null bs=512 count=1 2>&1 && echo readable"
out=$(b run --rm busybox sh -c "$read_disk" 2>&1)
case $out in
  *"Operation not permitted"*) pass "device program: the disk ($disk) cannot be opened" ;;
  *) fail "device program: the disk ($disk) cannot be opened" "output: $out" ;;
esac
out=$(b run --rm --privileged busybox sh -c "$read_disk" 2>&1 | tail -1)
expect "--privileged: no device program, the disk is readable" readable "$out"
out=$(b run --rm --privileged busybox sh -c 'dd if=/dev/kmsg of=/dev/null bs=8192 count=1 2>/dev/null && echo readable' 2>&1)
expect "--privileged: /dev/kmsg readable" readable "$out"

# 7. stats: usage, limit, pids and CPU time from the v2 files.
b run -d --name busy -m 32m busybox sh -c \
  'head -c 4000000 /dev/urandom > /tmp/x; while true; do :; done' > /dev/null 2>&1
sleep 3
out=$(b stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}' busy 2>&1)
say "stats: $out"
IFS='|' read -r mem pids cpu <<< "$out"
case $mem in
  "0B / "* | "") fail "stats: memory usage" "$mem" ;;
  *" / 32MiB") pass "stats: memory usage and limit ($mem)" ;;
  *) fail "stats: memory usage and limit" "$mem" ;;
esac
expect "stats: pids" 1 "$pids"
cpu_int=${cpu%%.*}
if [ -n "$cpu_int" ] && [ "$cpu_int" -ge 5 ] 2>/dev/null; then
  pass "stats: a spinning container uses CPU ($cpu)"
else
  fail "stats: a spinning container uses CPU" "CPU % '$cpu'"
fi
b rm -f busy > /dev/null 2>&1

# 8. update of a running container.
b run -d --name grow -m 16m --pids-limit 10 --cpus 0.5 busybox sleep 300 > /dev/null 2>&1
out=$(b update -m 64m --memory-swap 128m --pids-limit 30 --cpus 1.5 --cpu-shares 1024 \
  --cpuset-cpus 0 grow 2>&1)
expect "update" grow "$out"
out=$(b exec grow sh -c 'cd /sys/fs/cgroup && cat memory.max memory.swap.max pids.max cpu.max cpu.weight cpuset.cpus' 2>&1 | tr '\n' '|')
expect "update: the new limits inside" "67108864|67108864|30|150000 100000|39|0|" "$out"
expect "update: HostConfig" "67108864 30 1500000000" \
  "$(b inspect -f '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.NanoCpus}}' grow 2>&1)"
if out=$(b update -m 1m grow 2>&1); then
  fail "update -m 1m is refused" "it was accepted"
else
  pass "update -m 1m is refused ($out)"
fi
b rm -f grow > /dev/null 2>&1

# 8b. The cgroup namespace: Docker's default on v2 is a private one, where the container's
# cgroup is `/`; with --cgroupns host the paths are the host's, and /sys/fs/cgroup is still
# the container's own cgroup (bound, not a fresh mount of the whole tree).
hostns=$(readlink /proc/self/ns/cgroup)
cid=$(b create --pids-limit 11 busybox sh -c 'readlink /proc/self/ns/cgroup; cat /proc/self/cgroup /sys/fs/cgroup/pids.max' 2>&1)
expect "cgroupns: the default recorded" private "$(b inspect -f '{{.HostConfig.CgroupnsMode}}' "$cid" 2>&1)"
out=$(b start -a "$cid" 2>&1 | tr '\n' '|')
case $out in
  "$hostns|"*) fail "cgroupns default: a namespace of its own" "$out" ;;
  *"|0::/|11|") pass "cgroupns default: a namespace of its own, its cgroup as / ($out)" ;;
  *) fail "cgroupns default: its cgroup as /" "$out" ;;
esac
b rm "$cid" > /dev/null 2>&1
out=$(b run --rm --cgroupns host --pids-limit 12 busybox sh -c \
  'readlink /proc/self/ns/cgroup; cut -d/ -f2 /proc/self/cgroup; cat /sys/fs/cgroup/pids.max' 2>&1 | tr '\n' '|')
expect "--cgroupns host: the host's namespace and paths, its own pids.max" "$hostns|$parent|12|" "$out"

# 9. A container outlives a SIGKILLed daemon, in its cgroup, and the new daemon takes it back.
cid=$(b run -d --name survivor -m 24m busybox sleep 300 2>&1)
pid=$(b inspect -f '{{.State.Pid}}' survivor 2>&1)
kill -9 "$daemon"; wait "$daemon" 2>/dev/null
sleep 1
if kill -0 "$pid" 2>/dev/null && grep -qx "$pid" "$cgroot/$parent/$cid/cgroup.procs" 2>/dev/null; then
  pass "after kill -9 of the daemon the container runs on in its cgroup (pid $pid)"
else
  fail "after kill -9 of the daemon the container runs on" "pid $pid alive: $(kill -0 "$pid" 2>&1 && echo yes || echo no)"
fi
if start_daemon; then
  expect "the restarted daemon reattaches: running" "true $pid" \
    "$(b inspect -f '{{.State.Running}} {{.State.Pid}}' survivor 2>&1)"
  expect "exec after the restart, limit still set" 25165824 "$(b exec survivor cat /sys/fs/cgroup/memory.max 2>&1)"
  b stop -t 1 survivor > /dev/null 2>&1
  expect "stop after the restart: exited" "exited" "$(b inspect -f '{{.State.Status}}' survivor 2>&1)"
  b rm -f survivor > /dev/null 2>&1
else
  fail "the daemon starts again" "see the log above"
fi

# 10. Nothing left behind: no container cgroups under the parent once all are removed.
left=$(b ps -aq 2>&1)
# shellcheck disable=SC2086 # one id per word
[ -z "$left" ] || b rm -f $left > /dev/null 2>&1
kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null
left=$(find "$cgroot/$parent" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
expect "no cgroup left under $parent" "" "$left"

# 11. A nested --cgroup-parent: every level down to the parent must delegate the controllers
# (on v2 a level offers a controller only if the level above enabled it for its children).
parent='berth-smoke-nest/a/b'
if start_daemon; then
  out=$(b run --rm -m 32m --pids-limit 9 --cpus 0.5 busybox sh -c \
    'cd /sys/fs/cgroup && cat memory.max pids.max cpu.max' 2>&1 | tr '\n' '|')
  expect "nested --cgroup-parent $parent: the limits are set" "33554432|9|50000 100000|" "$out"
  kill -TERM "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null
else
  fail "a daemon with --cgroup-parent $parent starts" "see the log above"
fi
left=$(find "$cgroot/$parent" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
expect "no cgroup left under $parent" "" "$left"
rmdir "$cgroot/berth-smoke-nest/a/b" "$cgroot/berth-smoke-nest/a" "$cgroot/berth-smoke-nest" 2>/dev/null

# 12. Installed as Docker is: the files `just install` writes (it runs `berth __install`; the
# guest has no just), berth.socket enabled, berth.service started by the first connection to
# /run/berth.sock and serving it (`berth daemon -H fd://`), then stopped and uninstalled.
if out=$("$berth" __install --prefix /usr/local 2>&1); then
  pass "berth __install --prefix /usr/local ($(echo "$out" | wc -l) files)"
else
  fail "berth __install --prefix /usr/local" "$out"
fi
systemctl daemon-reload
if out=$(systemctl enable --now berth.socket 2>&1); then
  pass "systemctl enable --now berth.socket"
else
  fail "systemctl enable --now berth.socket" "$out"
fi
expect "berth.socket listens, berth.service waits for a client" "active inactive" \
  "$(systemctl is-active berth.socket) $(systemctl is-active berth.service)"
sys() { BERTH_HOST=unix:///run/berth.sock timeout 120 /usr/local/bin/berth "$@"; }
if out=$(sys version 2>&1); then
  pass "version through /run/berth.sock starts the daemon"
else
  fail "version through /run/berth.sock starts the daemon" "$out; $(journalctl -u berth.service --no-pager | tail -10)"
fi
expect "berth.service is active (Type=notify: it said READY=1)" active "$(systemctl is-active berth.service)"
main=$(systemctl show -p MainPID --value berth.service)
expect "the service runs the installed binary on systemd's socket" \
  "/usr/local/bin/berth daemon -H fd://" "$(tr '\0' ' ' < "/proc/$main/cmdline" 2>&1 | sed 's/ $//')"
sys load -i "$share/busybox.tar" > /dev/null 2>&1
expect "run --rm through the service" "hi from the service" "$(sys run --rm busybox echo hi from the service 2>&1)"
if out=$(systemctl disable --now berth.socket berth.service 2>&1); then
  pass "systemctl disable --now berth.socket berth.service"
else
  fail "systemctl disable --now berth.socket berth.service" "$out"
fi
expect "both units stopped" "inactive inactive" \
  "$(systemctl is-active berth.socket) $(systemctl is-active berth.service)"
if out=$("$berth" __uninstall --prefix /usr/local 2>&1); then
  pass "berth __uninstall ($(echo "$out" | wc -l) files)"
else
  fail "berth __uninstall" "$out"
fi
systemctl daemon-reload
left=$(find /usr/local -name '*berth*' ! -path /usr/local/sbin/berth-v2-check 2>/dev/null | tr '\n' ' ')
expect "uninstall leaves no berth file under /usr/local" "" "$left"

# 13. berth-runc on cgroup v2: a bundle's memory limit in its own cgroup (cgroupsPath), seen
# from inside through its cgroup namespace and from the host, the freezer, and nothing left.
runc_bin=$share/berth-runc
if [ -x "$runc_bin" ]; then
  rr() { timeout 60 "$runc_bin" --root /run/berth-smoke-runc "$@"; }
  bundle=$work/bundle
  rm -rf "$bundle" "$work/image"
  mkdir -p "$bundle/rootfs" "$work/image"
  tar -xf "$share/busybox.tar" -C "$work/image"
  tar -xf "$(ls "$work"/image/*/layer.tar | head -1)" -C "$bundle/rootfs"
  rr spec --bundle "$bundle"
  sed -i -e 's/"terminal": true/"terminal": false/' \
    -e 's|"sh"$|"sh", "-c", "cat /sys/fs/cgroup/memory.max; exec sleep 300"|' \
    -e 's|"resources": {|"resources": {"memory": {"limit": 33554432},|' \
    -e 's|"linux": {|"linux": {"cgroupsPath": "berth-smoke-runc/c1",|' "$bundle/config.json"
  if out=$(rr create --bundle "$bundle" c1 < /dev/null > "$work/runc.out" 2>&1); then
    pass "berth-runc create"
  else
    fail "berth-runc create" "$out $(cat "$work/runc.out")"
  fi
  expect "berth-runc state: created" '"created"' "$(rr state c1 | sed -n 's/.*"status": //p')"
  rr start c1
  for _ in $(seq 50); do [ -s "$work/runc.out" ] && break; sleep 0.1; done
  expect "berth-runc: the limit seen inside" 33554432 "$(head -1 "$work/runc.out")"
  expect "berth-runc: the limit on the host" 33554432 "$(cat "$cgroot/berth-smoke-runc/c1/memory.max" 2>&1)"
  rr pause c1
  expect "berth-runc pause: cgroup.freeze" "1 \"paused\"" \
    "$(cat "$cgroot/berth-smoke-runc/c1/cgroup.freeze") $(rr state c1 | sed -n 's/.*"status": //p')"
  rr resume c1
  rr delete --force c1
  left=$(find "$cgroot/berth-smoke-runc" -mindepth 1 -type d 2>/dev/null | tr '\n' ' ')
  expect "berth-runc delete: no cgroup left" "" "$left"
  rmdir "$cgroot/berth-smoke-runc" 2>/dev/null
else
  fail "berth-runc" "not in the share ($share)"
fi

say "SUMMARY: $passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
  say "daemon log (last 30 lines):"
  tail -30 "$work/daemon.log"
fi
exit "$((failed > 0 ? 1 : 0))"
