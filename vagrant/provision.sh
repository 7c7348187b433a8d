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

packages=(build-essential pkg-config iptables iproute2 busybox-static runc util-linux
  ca-certificates curl python3 python3-pip python3-docker tmux procps psmisc)
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

# The owner of the project tree gets the toolchain (vagrant in the VM, root elsewhere).
user=${SUDO_USER:-root}
home=$(getent passwd "$user" | cut -d: -f6)
as_user() { if [ "$user" = root ]; then bash -c "$1"; else su - "$user" -c "$1"; fi; }

if as_user 'command -v cargo >/dev/null || test -x "$HOME/.cargo/bin/cargo"'; then
  echo "provision: rust toolchain already present"
else
  echo "provision: installing the rust toolchain with rustup"
  as_user 'curl --proto "=https" --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt'
fi

if as_user 'export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"; command -v just >/dev/null'; then
  echo "provision: just already present"
else
  echo "provision: installing just"
  if ! as_user 'pip install --user rust-just >/dev/null 2>&1 || pip install --user --break-system-packages rust-just >/dev/null 2>&1'; then
    as_user '"$HOME/.cargo/bin/cargo" install just'
  fi
fi

for m in overlay veth bridge; do
  modprobe "$m" 2>/dev/null || true
done
echo "provision: done (toolchain for $user in $home)"
