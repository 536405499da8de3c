#!/usr/bin/env bash
# Proves the Dockerfile's runtime stage holds enough, without a Docker engine: builds the release binary
# as the build stage does (static Swift stdlib), makes a Debian bookworm minbase root file system with
# debootstrap, installs only the runtime stage's packages into it, copies the binary, models and
# openapi.yaml as the Dockerfile does, then runs `deepserve serve` inside it (chroot, uid 10001) and
# checks readiness, a classification and `deepserve healthcheck` from inside.
# Run by hand as root: deploy/rootfs-check.sh [ROOTFS folder, default /tmp/deepserve-rootfs]
set -euo pipefail
cd "$(dirname "$0")/.."
root="${1:-/tmp/deepserve-rootfs}"
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }

echo "== release binary with the Swift stdlib linked in (as the build stage)"
swift build -c release --static-swift-stdlib --product deepserve --scratch-path .build-static >/dev/null
binary=.build-static/release/deepserve

if [[ ! -x "$root/usr/bin/apt-get" ]]; then
    echo "== debootstrap bookworm (minbase) into $root"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
fi
echo "== the runtime stage's packages only"
chroot "$root" apt-get install -y -qq --no-install-recommends libssl3 zlib1g libjpeg62-turbo >/dev/null
chroot "$root" id -u 10001 >/dev/null 2>&1 || chroot "$root" useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin deepserve
install -D "$binary" "$root/usr/local/bin/deepserve"
rm -rf "$root/srv/deepserve" && mkdir -p "$root/srv/deepserve"
cp -r models "$root/srv/deepserve/models" && cp openapi.yaml "$root/srv/deepserve/"
echo "== shared libraries the binary needs, resolved inside the root file system"
chroot "$root" ldd /usr/local/bin/deepserve | sed 's/^/   /'
if chroot "$root" ldd /usr/local/bin/deepserve | grep -q "not found"; then echo "FAIL: missing libraries"; exit 1; fi

mount -t proc proc "$root/proc" 2>/dev/null || true
trap 'kill $server 2>/dev/null || true; umount "$root/proc" 2>/dev/null || true' EXIT
chroot --userspec=10001:10001 "$root" /bin/sh -c 'cd /srv/deepserve && DEEPSERVE_PORT=18500 DEEPSERVE_GRPC_PORT=18501 exec deepserve serve --model-repository models' \
    > /tmp/deepserve-rootfs.log 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:18500/health/ready >/dev/null && break; sleep 0.1; done
echo "== answers from the server in the root file system"
curl -sf http://127.0.0.1:18500/health/ready && echo
curl -sf -H 'Content-Type: image/png' --data-binary @Tests/Fixtures/models/mnist-heldout/000.png \
    http://127.0.0.1:18500/v1/models/mnist-cnn/classify | head -c 160 && echo
chroot --userspec=10001:10001 "$root" env DEEPSERVE_PORT=18500 deepserve healthcheck
echo "PASS: the runtime stage's packages run deepserve"
