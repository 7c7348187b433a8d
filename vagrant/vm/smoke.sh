#!/usr/bin/env bash
# `just vm-smoke`: prove berth's cgroup v2 code on a host that runs cgroup v1. Builds (once) a
# Debian 12 VM image from Debian's packages (vagrant/vm/build-image.sh, cached under
# $BERTH_VM_CACHE keyed by a hash of that recipe and the mirror), boots it headless under
# qemu (KVM when a probe boot shows it works, else TCG) with systemd on the unified hierarchy
# and no network device, shares the release binary, the busybox fixture and
# vagrant/vm/guest-checks.sh read-only over 9p, and reports what the checks inside printed.
#
# Exit status: 0 all checks passed; 1 a check failed, or the guest did not boot or report in
# its time; 77 the VM cannot run on this machine at all (no root, no qemu), said loudly.
#
# Environment: BERTH_VM_CACHE (/var/cache/berth-vm), BERTH_VM_ACCEL (auto|kvm|tcg),
# BERTH_VM_BOOT_TIMEOUT (300 s until the checks start), BERTH_VM_TIMEOUT (1200 s in all),
# BERTH_VM_MEM (2048 MB), BERTH_VM_CPUS (2), BERTH_VM_BERTH (the binary to test:
# target/release/berth).
set -euo pipefail
cd "$(dirname "$0")/../.."

here=vagrant/vm
cache_root=${BERTH_VM_CACHE:-/var/cache/berth-vm}
accel_want=${BERTH_VM_ACCEL:-auto}
boot_limit=${BERTH_VM_BOOT_TIMEOUT:-300}
total_limit=${BERTH_VM_TIMEOUT:-1200}
run=$PWD/target/vm-smoke
berth_bin=${BERTH_VM_BERTH:-target/release/berth}
fixture=target/fixtures/busybox.tar
t0=$SECONDS

banner() {
  echo "##########################################################################"
  echo "# VM SMOKE $*"
  echo "##########################################################################"
}
skip() { banner "SKIPPED: $*"; exit 77; }
die() { banner "FAILED: $*"; exit 1; }
step() { echo "vm-smoke [$((SECONDS - t0))s]: $*"; }

[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap and the image build): sudo just vm-smoke"

# Host tools, through the same provisioning script as CI and the Vagrant VM.
if ! command -v qemu-system-x86_64 > /dev/null || ! command -v debootstrap > /dev/null ||
  ! command -v mkfs.ext4 > /dev/null; then
  step "installing the VM tools (vagrant/provision.sh with BERTH_WITH_VM=1)"
  BERTH_WITH_VM=1 bash vagrant/provision.sh < /dev/null ||
    skip "could not install qemu-system-x86, qemu-utils and debootstrap"
fi
command -v qemu-system-x86_64 > /dev/null || skip "no qemu-system-x86_64 on this machine"

[ -x "$berth_bin" ] || { step "building the release binary"; cargo build --release; }
[ -s "$fixture" ] || { step "building the fixture"; bash fixtures/busybox/build.sh "$fixture"; }

# The mirror this host's apt uses (deb822 sources or a classic sources.list line).
mirror=$(
  { grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list.d/*.sources |
    awk '{print $2}'
    grep -hsE '^deb +(\[[^]]*\] +)?https?://' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
    sed -E 's/^deb +(\[[^]]*\] +)?//' | awk '{print $1}'; } |
    grep -v -- '-security' | grep -m1 '/debian/\?$' || true
)
mirror=${mirror:-http://deb.debian.org/debian}

# The image: built once per recipe, under a lock (two CI runs on one machine build it once).
key=$( { sha256sum < "$here/build-image.sh"; echo "$mirror"; } | sha256sum | cut -c1-16)
img=$cache_root/$key
mkdir -p "$cache_root"
exec 9> "$cache_root/lock"
flock 9
if [ -e "$img/ok" ]; then
  step "image $key cached in $img"
  build_time=0
else
  step "building image $key in $img (debootstrap from $mirror; takes minutes)"
  b0=$SECONDS
  rm -rf "$img.tmp"
  bash "$here/build-image.sh" "$img.tmp" "$mirror" || die "the image build failed ($img.tmp/debootstrap.log)"
  touch "$img.tmp/ok"
  rm -rf "$img"
  mv "$img.tmp" "$img"
  # Older recipes' images are of no more use; keep the disk bounded.
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name "$key" -exec rm -rf {} +
  build_time=$((SECONDS - b0))
  step "image built in ${build_time}s"
fi
flock -u 9

# What the guest sees at /mnt/berth (read-only): the binary, the fixture, the checks.
rm -rf "$run"
mkdir -p "$run/share"
cp "$berth_bin" "$run/share/berth"
# berth-runc, built beside it, for the checks of the runtime's own command line on v2.
if [ -x "$(dirname "$berth_bin")/berth-runc" ]; then
  cp "$(dirname "$berth_bin")/berth-runc" "$run/share/berth-runc"
fi
cp "$fixture" "$here/guest-checks.sh" "$run/share/"
: > "$run/console.log"
: > "$run/result.log"

qpid=
cleanup() {
  if [ -n "$qpid" ] && kill -0 "$qpid" 2> /dev/null; then
    kill "$qpid" 2> /dev/null || true
    sleep 1
    kill -9 "$qpid" 2> /dev/null || true
  fi
  wait 2> /dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

qemu_base=(qemu-system-x86_64 -nodefaults -no-user-config -display none -monitor none
  -nic none -no-reboot -kernel "$img/vmlinuz")

# KVM only where a tiny boot (the kernel without a root: it panics, and -no-reboot ends qemu)
# gets as far as the kernel's first line in a few seconds; nested KVM here hangs after the
# firmware. The answer is kept in /run (a tmpfs) for this boot of the host, with qemu's version.
accel=tcg
probe_file=/run/berth-vm-kvm-probe
probe_key="$(cat /proc/sys/kernel/random/boot_id) $(qemu-system-x86_64 --version | head -1)"
if [ "$accel_want" = kvm ] || { [ "$accel_want" = auto ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }; then
  if [ "$accel_want" = auto ] && [ -f "$probe_file" ] && [ "$(sed -n 1p "$probe_file")" = "$probe_key" ]; then
    accel=$(sed -n 2p "$probe_file")
    step "KVM probe result of this host boot: $accel ($probe_file)"
  else
    : > "$run/kvm-probe.log"
    timeout -k 2 15 "${qemu_base[@]}" -accel kvm -cpu host -m 256 -serial "file:$run/kvm-probe.log" \
      -append "console=ttyS0 panic=-1 root=/dev/nonexistent" > /dev/null 2>&1 || true
    if grep -q 'Linux version' "$run/kvm-probe.log"; then
      accel=kvm
    elif [ "$accel_want" = kvm ]; then
      die "BERTH_VM_ACCEL=kvm, but a KVM boot did not reach the kernel in 15s"
    else
      step "KVM does not boot a kernel here (probe: 15s, no kernel output); using TCG"
    fi
    printf '%s\n%s\n' "$probe_key" "$accel" > "$probe_file"
  fi
fi
if [ "$accel" = kvm ]; then cpu=(-accel kvm -cpu host); else cpu=(-accel tcg -cpu max); fi

step "booting ($accel, ${BERTH_VM_CPUS:-2} cpus, ${BERTH_VM_MEM:-2048} MB, no network device); console in $run/console.log"
boot0=$SECONDS
timeout -k 5 "$total_limit" "${qemu_base[@]}" "${cpu[@]}" -smp "${BERTH_VM_CPUS:-2}" \
  -m "${BERTH_VM_MEM:-2048}" -initrd "$img/initrd.img" \
  -drive "file=$img/root.img,format=raw,if=virtio,snapshot=on" \
  -virtfs "local,path=$run/share,mount_tag=berth,security_model=none,readonly=on" \
  -serial "file:$run/console.log" -serial "file:$run/result.log" \
  -append "root=/dev/vda rw console=ttyS0 systemd.unified_cgroup_hierarchy=1 panic=-1 quiet loglevel=3 systemd.show_status=0" \
  > "$run/qemu.log" 2>&1 &
qpid=$!

shown=0 booted_at='' verdict=''
while :; do
  lines=$(wc -l < "$run/result.log")
  if [ "$lines" -gt "$shown" ]; then
    sed -n "$((shown + 1)),${lines}p" "$run/result.log" | tr -d '\r' | sed 's/^/  guest| /'
    shown=$lines
  fi
  if [ -z "$booted_at" ] && grep -q 'BERTH-VM: booted' "$run/result.log"; then
    booted_at=$SECONDS
  fi
  verdict=$(tr -d '\r' < "$run/result.log" | sed -n 's/^BERTH-VM-RESULT rc=\([0-9]*\).*/\1/p' | tail -1)
  kill -0 "$qpid" 2> /dev/null || break
  if [ -n "$verdict" ] && [ $((SECONDS - boot0)) -gt 0 ]; then
    # The guest powers off after the verdict; give it a few seconds, then stop waiting.
    for _ in $(seq 30); do kill -0 "$qpid" 2> /dev/null || break; sleep 0.5; done
    break
  fi
  if [ -z "$booted_at" ] && [ $((SECONDS - boot0)) -ge "$boot_limit" ]; then
    echo "--- last lines of the console ($run/console.log):"
    tail -30 "$run/console.log" | tr -d '\r'
    die "the guest did not come up within ${boot_limit}s ($accel)"
  fi
  sleep 0.5
done
lines=$(wc -l < "$run/result.log")
[ "$lines" -le "$shown" ] || sed -n "$((shown + 1)),${lines}p" "$run/result.log" | tr -d '\r' | sed 's/^/  guest| /'
end=$SECONDS

boot_s=$(( ${booted_at:-$end} - boot0 ))
checks_s=$(( end - ${booted_at:-$end} ))
times="image build ${build_time}s, boot to the checks ${boot_s}s ($accel), checks ${checks_s}s, total $((end - t0))s"
if [ -z "$verdict" ]; then
  echo "--- last lines of the console ($run/console.log):"
  tail -30 "$run/console.log" | tr -d '\r'
  [ -n "$booted_at" ] || die "the guest did not come up (qemu: $(tail -3 "$run/qemu.log" | tr '\n' ' ')); $times"
  die "the guest stopped or timed out (${total_limit}s) without a verdict; $times"
fi
[ "$verdict" = 0 ] || die "cgroup v2 checks failed in the guest (rc=$verdict); $times"
banner "PASSED on cgroup v2: $times"
