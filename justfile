# berth: a Docker engine in Rust, and a course. `just --list` shows every recipe.
set shell := ["bash", "-euo", "pipefail", "-c"]

fixture_tar := "target/fixtures/busybox.tar"
# Where `just install` puts berth: `sudo PREFIX=/usr just install` (or `just PREFIX=/usr install`)
PREFIX := env("PREFIX", "/usr/local")
# A staging root for packages: the files go under DESTDIR/PREFIX, and still name PREFIX inside
DESTDIR := env("DESTDIR", "")

# Build the release binary
build:
    cargo build --release

# Install the binary, completions, man pages and systemd units under PREFIX (/usr/local)
install:
    #!/usr/bin/env bash
    set -euo pipefail
    prefix={{quote(PREFIX)}} dest={{quote(DESTDIR)}}
    # Under sudo the toolchain may be out of PATH: then install what `just build` built.
    export PATH="$HOME/.cargo/bin:$PATH"
    if command -v cargo > /dev/null; then
        cargo build --release
    elif [ ! -x target/release/berth ]; then
        echo "no cargo on this PATH to build berth: run 'just build' first, then 'sudo just install'" >&2
        exit 1
    fi
    # The binary writes every file from its own definition (src/cli/install.rs says why).
    target/release/berth __install --prefix "$prefix" --destdir "$dest"
    # A staged install (DESTDIR) touches nothing of the running system.
    if [ -z "$dest" ] && [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        echo "Start berth with: systemctl enable --now berth.socket"
    fi

# Stop berth's systemd units and remove what `just install` put under PREFIX
uninstall:
    #!/usr/bin/env bash
    set -euo pipefail
    prefix={{quote(PREFIX)}} dest={{quote(DESTDIR)}}
    # A staged install (DESTDIR) touches nothing of the running system.
    live=
    if [ -z "$dest" ] && [ -d /run/systemd/system ]; then live=1; fi
    if [ -n "$live" ] && [ -e "$prefix/lib/systemd/system/berth.socket" ]; then
        systemctl disable --now berth.socket berth.service
    fi
    # The installed binary knows the files it installed.
    bin=$dest$prefix/bin/berth
    [ -x "$bin" ] || bin=target/release/berth
    "$bin" __uninstall --prefix "$prefix" --destdir "$dest"
    if [ -n "$live" ]; then systemctl daemon-reload; fi

# Build the busybox:latest image archive from Debian's busybox-static
fixture:
    bash fixtures/busybox/build.sh {{fixture_tar}}

# Install what is missing, start a daemon, run a few containers, and say how to go on
demo:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "$(id -u)" -ne 0 ]; then echo "just demo needs root (sudo just demo)" >&2; exit 1; fi
    export PATH="$HOME/.cargo/bin:$PATH"
    # Every time: a machine can have every tool and still lack a library (libseccomp-dev), and
    # provision.sh only checks, and installs nothing, when all is there.
    bash vagrant/provision.sh
    cargo build --release
    bash fixtures/busybox/build.sh {{fixture_tar}}
    berth=$PWD/target/release/berth
    # A private daemon (own root, socket, bridge, chains, cgroup), so the demo neither meets
    # nor leaves anything behind for a daemon already running on the default paths.
    demo=$(mktemp -d /tmp/berth-demo.XXXXXX)
    sock=unix://$demo/berth.sock
    "$berth" daemon --root "$demo/root" --exec-root "$demo/exec" -H "$sock" \
        --bridge berthdemo0 --iptables-prefix BERTHDEMO --cgroup-parent berth-demo > "$demo/daemon.log" 2>&1 &
    daemon=$!
    cleanup() {
        kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true
        # The daemon leaves its chains behind on exit, as dockerd does (published ports keep
        # working while it is down); a demo takes them away, with its bridge and cgroup.
        source tests/bench/lib.sh
        remove_daemon_traces berthdemo0 BERTHDEMO berth-demo
        rm -rf "$demo"
    }
    trap cleanup EXIT
    export BERTH_HOST=$sock
    for _ in $(seq 100); do "$berth" version >/dev/null 2>&1 && break; sleep 0.1; done
    "$berth" version >/dev/null || { echo "the daemon did not answer:"; cat "$demo/daemon.log"; exit 1; }
    show() { echo; echo "\$ berth $*"; "$berth" "$@"; }
    show load -i {{fixture_tar}}
    show images
    show run --rm busybox echo hello from berth
    show run --rm busybox hostname
    show run --rm busybox ip addr show eth0
    show build -t demo-hello fixtures/build/hello
    show run --rm demo-hello
    show run -d --name demo-sleeper busybox sleep 30
    show ps -a
    show rm -f demo-sleeper
    echo
    echo "That was a private daemon in $demo; it is stopped and removed now."
    echo "To go on: run 'just daemon' in one terminal (as root) and, in another,"
    echo "  target/release/berth load -i {{fixture_tar}}"
    echo "  target/release/berth run --rm busybox echo hi"
    echo "  target/release/berth ps -a"
    echo "The course starts in chapters/README.md."

# Run the daemon in the foreground with the default paths (for a second terminal)
daemon: build
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "$(id -u)" -eq 0 ]; then exec target/release/berth daemon --debug; fi
    exec sudo target/release/berth daemon --debug

# Unit, property, snapshot and CLI tests, and the e2e suite when run as root
test: fixture
    #!/usr/bin/env bash
    set -euo pipefail
    banner() {
        echo "##########################################################################"
        echo "# E2E SUITE SKIPPED: not root. Run 'sudo just e2e' or 'just vm-e2e' (Vagrant VM)."
        echo "##########################################################################"
    }
    if [ "$(id -u)" -ne 0 ]; then
        banner
        # Said again at the end, where it is not scrolled away by cargo's output.
        trap banner EXIT
    fi
    if cargo fmt --version >/dev/null 2>&1; then
        cargo fmt --check
    else
        echo "rustfmt is not installed: formatting not checked (rustup component add rustfmt)"
    fi
    cargo test

# Only the end-to-end suite (needs root)
e2e: fixture
    #!/usr/bin/env bash
    set -euo pipefail
    if [ "$(id -u)" -ne 0 ]; then echo "just e2e needs root (sudo just e2e)" >&2; exit 1; fi
    shopt -s nullglob
    args=()
    for f in tests/e2e_*.rs tests/network_*.rs tests/image_*.rs; do args+=(--test "$(basename "$f" .rs)"); done
    cargo test "${args[@]}"

# Median time of `berth run --rm busybox true`, beside runc and Docker where installed
bench: fixture
    bash tests/bench/run.sh
    bash tests/bench/images.sh
    bash tests/bench/build.sh
    bash tests/bench/volumes.sh
    bash tests/bench/runtime.sh
    bash tests/bench/network.sh

# Boot a Debian 12 VM with cgroup v2 under qemu (image built once, cached) and run the v2 checks
vm-smoke: build fixture
    bash vagrant/vm/smoke.sh

# Bring the Vagrant VM up (provisioned, project synced) and run the e2e suite inside it
vm-e2e:
    cd vagrant && vagrant up --provision && vagrant rsync && vagrant ssh -c 'cd berth && sudo just e2e'

# Formatting and clippy, warnings as errors
lint:
    cargo fmt --check
    cargo clippy --all-targets -- -D warnings
