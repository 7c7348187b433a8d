#!/usr/bin/env bash
# The recipe of the cgroup-v2 smoke VM's image (vagrant/vm/smoke.sh builds it with this script
# and caches it under a hash of this file): a Debian 12 root made by debootstrap from the
# mirror this host's apt uses, with Debian's kernel and initrd copied out beside it, packed
# into an ext4 disk image without loop mounts (mkfs.ext4 -d). Nothing but Debian's packages
# goes in; berth, the fixture and the checks come in at boot over a read-only 9p share.
#
#   build-image.sh OUTDIR MIRROR    (as root; writes OUTDIR/{vmlinuz,initrd.img,root.img})
set -euo pipefail

out=${1:?usage: build-image.sh OUTDIR MIRROR}
mirror=${2:?usage: build-image.sh OUTDIR MIRROR}
suite=bookworm
# What the guest needs: systemd as init (the unified cgroup hierarchy is its default), the
# kernel (modules for virtio, 9p, overlay, veth, bridge, nf_tables load through kmod), and what
# berth's daemon and the checks call: iptables, ip, busybox, libseccomp.
packages=(systemd systemd-sysv udev kmod linux-image-amd64 initramfs-tools
  libseccomp2 iptables iproute2 busybox-static util-linux procps)
disk_size=3G

root=$out/root
mkdir -p "$out"
# debootstrap mounts proc and sys in the root; leave none behind on any exit.
cleanup() {
  awk -v r="$root" '$2 ~ "^"r {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$root"
}
trap cleanup EXIT

echo "build-image: debootstrap $suite from $mirror (${packages[*]})"
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  "$suite" "$root" "$mirror" > "$out/debootstrap.log" 2>&1 || {
  tail -20 "$out/debootstrap.log"; echo "build-image: debootstrap failed" >&2; exit 1; }

echo berth-v2 > "$root/etc/hostname"
printf '127.0.0.1 localhost berth-v2\n' > "$root/etc/hosts"
printf '/dev/vda / ext4 rw,relatime 0 1\n' > "$root/etc/fstab"
: > "$root/etc/machine-id"
# The guest has no network device: nothing waits for one, nothing fetches or updates.
for unit in apt-daily.timer apt-daily-upgrade.timer fstrim.timer e2scrub_all.timer \
  e2scrub_reap.service systemd-timesyncd.service serial-getty@ttyS0.service \
  serial-getty@ttyS1.service getty@tty1.service; do
  ln -sfn /dev/null "$root/etc/systemd/system/$unit"
done

# The check unit: mount the share, run its script with the output on the second serial port
# (the host reads it from a file), and power off whatever happened.
cat > "$root/etc/systemd/system/berth-v2-check.service" <<'UNIT'
[Unit]
Description=berth cgroup v2 smoke checks (from the host's 9p share)
After=multi-user.target
Wants=multi-user.target

[Service]
Type=oneshot
StandardOutput=tty
StandardError=tty
TTYPath=/dev/ttyS1
ExecStart=/usr/local/sbin/berth-v2-check
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
cat > "$root/usr/local/sbin/berth-v2-check" <<'RUNNER'
#!/bin/sh
# Runs the host's checks from the 9p share; the last line on ttyS1 is the verdict.
rc=1
echo "BERTH-VM: booted: $(uname -r), $(stat -fc %T /sys/fs/cgroup) on /sys/fs/cgroup, up $(cut -d' ' -f1 /proc/uptime)s"
mkdir -p /mnt/berth
modprobe 9pnet_virtio 2>/dev/null; modprobe 9p 2>/dev/null
if mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=1048576 berth /mnt/berth; then
  /bin/bash /mnt/berth/guest-checks.sh /mnt/berth
  rc=$?
else
  echo "BERTH-VM: could not mount the 9p share"
fi
echo "BERTH-VM-RESULT rc=$rc"
sync
# systemctl asks logind first (over D-Bus, not installed) and says so before it falls back.
systemctl poweroff --no-block 2>/dev/null
RUNNER
chmod 755 "$root/usr/local/sbin/berth-v2-check"
mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
ln -sfn /etc/systemd/system/berth-v2-check.service \
  "$root/etc/systemd/system/multi-user.target.wants/berth-v2-check.service"

kernel=$(find "$root/boot" -name 'vmlinuz-*' | sort -V | tail -1)
initrd=$root/boot/initrd.img-${kernel##*/vmlinuz-}
if [ ! -s "$kernel" ] || [ ! -s "$initrd" ]; then echo "build-image: no kernel or initrd in $root/boot" >&2; exit 1; fi
cp "$kernel" "$out/vmlinuz"
cp "$initrd" "$out/initrd.img"
rm -rf "$root/var/cache/apt/archives"/*.deb "$root/var/lib/apt/lists"/*_Packages
rm -f "$out/root.img"
truncate -s "$disk_size" "$out/root.img"
mkfs.ext4 -q -F -L berth-v2 -d "$root" "$out/root.img"
echo "build-image: $(du -sh --apparent-size "$out/root.img" | cut -f1) disk ($(du -sh "$out/root.img" | cut -f1) used), kernel ${kernel##*/}"
