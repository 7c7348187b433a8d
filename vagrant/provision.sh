#!/usr/bin/env bash
# Install what berth needs to build, test and run, idempotently: on a plain Debian/Ubuntu host
# (CI runs this as root) and inside the Vagrant VM. Nothing is downloaded when everything is
# already there. BERTH_WITH_DOCKER=1 also installs Debian's docker.io, a real engine to compare.
# shellcheck disable=SC2016 # as_user snippets expand in the user's own shell, on purpose
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "provision.sh: run as root (sudo $0)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

# python3-docker: the e2e suite drives berth with Debian's Docker SDK too. libseccomp-dev:
# the seccomp crate links libseccomp (runtime: libseccomp2, on every Debian). docker-registry
# and apache2-utils (htpasswd): the pull/push tests run a real registry on 127.0.0.1. skopeo and
# umoci read what `berth save` writes, in the image tests. docker-compose (1.29): a real
# multi-container client, in tests/e2e_compose.rs.
packages=(build-essential pkg-config libseccomp-dev iptables iproute2 busybox-static runc util-linux
  ca-certificates curl python3 python3-pip python3-docker tmux procps psmisc
  docker-registry apache2-utils skopeo umoci docker-compose)
if [ "${BERTH_WITH_DOCKER:-0}" = 1 ]; then
  packages+=(docker.io)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "provision: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "provision: system packages already present"
fi

# BERTH_WITH_VM=1: what `just vm-smoke` (vagrant/vm/smoke.sh) needs on the host to build and
# boot its cgroup-v2 VM: qemu, debootstrap and mkfs.ext4 (the guest's kernel goes into the
# guest's root, not onto the host). qemu-system-x86 wants qemu-utils of its own version, and a
# newer one (from backports) may be installed: pin it to qemu-system-x86's candidate.
if [ "${BERTH_WITH_VM:-0}" = 1 ]; then
  installed_version() { dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null | sed -n 's/^install ok installed //p'; }
  if [ -z "$(installed_version qemu-system-x86)" ] || [ -z "$(installed_version debootstrap)" ] ||
    [ -z "$(installed_version e2fsprogs)" ] ||
    [ "$(installed_version qemu-utils)" != "$(installed_version qemu-system-x86)" ]; then
    apt-get update -qq
    qemu_version=$(apt-cache policy qemu-system-x86 | awk '/Candidate:/ {print $2}')
    echo "provision: installing qemu-system-x86 and qemu-utils $qemu_version, debootstrap (VM smoke)"
    apt-get install -y -qq --no-install-recommends --allow-downgrades \
      "qemu-system-x86=$qemu_version" "qemu-utils=$qemu_version" debootstrap e2fsprogs >/dev/null
  else
    echo "provision: VM tools already present"
  fi
fi

# The owner of the project tree gets the toolchain (vagrant in the VM, root elsewhere).
user=${SUDO_USER:-root}
home=$(getent passwd "$user" | cut -d: -f6)
as_user() { if [ "$user" = root ]; then bash -c "$1"; else su - "$user" -c "$1"; fi; }

if as_user 'command -v cargo >/dev/null || test -x "$HOME/.cargo/bin/cargo"'; then
  echo "provision: rust toolchain already present"
else
  echo "provision: installing the rust toolchain with rustup for $user"
  as_user 'curl --proto "=https" --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt'
fi

if as_user 'export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"; command -v just >/dev/null'; then
  echo "provision: just already present"
else
  echo "provision: installing just (pip install rust-just) for $user"
  # Debian 12's pip refuses --user installs into its own Python without the override.
  pip_log=$(mktemp)
  if ! as_user 'pip install --user rust-just || pip install --user --break-system-packages rust-just' >"$pip_log" 2>&1; then
    tail -3 "$pip_log"
    echo "provision: pip failed (above); cargo install just"
    as_user 'PATH="$HOME/.cargo/bin:$PATH" cargo install just'
  fi
  rm -f "$pip_log"
fi

# In the VM the toolchain belongs to vagrant, but the e2e suite runs as `sudo just e2e`, and
# sudo's secure_path holds /usr/local/bin, not ~vagrant/.cargo/bin. Link the toolchain's own
# binaries (not rustup's proxies, which would look for root's ~/.rustup) and just there.
if [ "$user" != root ]; then
  toolchain=$(as_user 'PATH="$HOME/.cargo/bin:$PATH"; dirname "$(rustup which rustc 2>/dev/null || command -v rustc)"' || true)
  just_bin=$(as_user 'PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"; command -v just' || true)
  linked=()
  for tool in cargo rustc rustdoc cargo-fmt rustfmt cargo-clippy clippy-driver; do
    if [ -x "$toolchain/$tool" ] && [ "$(readlink "/usr/local/bin/$tool" || true)" != "$toolchain/$tool" ]; then
      ln -sfn "$toolchain/$tool" "/usr/local/bin/$tool"
      linked+=("$tool")
    fi
  done
  if [ -n "$just_bin" ] && [ "$just_bin" != /usr/local/bin/just ] &&
    [ "$(readlink /usr/local/bin/just || true)" != "$just_bin" ]; then
    ln -sfn "$just_bin" /usr/local/bin/just
    linked+=(just)
  fi
  if [ "${#linked[@]}" -gt 0 ]; then
    echo "provision: linked ${linked[*]} into /usr/local/bin for sudo"
  fi
fi

loaded=()
for m in overlay veth bridge; do
  # A module built into the kernel is not listed in /proc/modules, and modprobe may be absent
  # or fail for it: what counts is that the feature works, which the tests check.
  if ! grep -q "^$m " /proc/modules 2>/dev/null && modprobe "$m" 2>/dev/null; then
    loaded+=("$m")
  fi
done
if [ "${#loaded[@]}" -gt 0 ]; then
  echo "provision: loaded kernel modules ${loaded[*]}"
fi
# Chapter 05's registry: Debian's service, on 127.0.0.1:5000 without auth (the package's own
# config asks for an htpasswd file it does not ship). Only where systemd runs (the VM), and
# only once; the e2e suite starts registries of its own and does not need this one.
if [ -d /run/systemd/system ] && [ ! -e /etc/systemd/system/docker-registry.service.d/berth.conf ]; then
  mkdir -p /etc/berth /etc/systemd/system/docker-registry.service.d
  cat > /etc/berth/registry.yml <<'YAML'
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
YAML
  printf '[Service]\nExecStart=\nExecStart=/usr/bin/docker-registry serve /etc/berth/registry.yml\n' \
    > /etc/systemd/system/docker-registry.service.d/berth.conf
  systemctl daemon-reload
  systemctl enable --now docker-registry >/dev/null 2>&1 && systemctl restart docker-registry \
    && echo "provision: docker-registry serves 127.0.0.1:5000 (chapter 05)"
fi
echo "provision: done (toolchain for $user in $home)"
