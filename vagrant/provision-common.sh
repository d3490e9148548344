#!/usr/bin/env bash
# Every VM: the build dependencies, Node 20 (Debian 12 ships 18; package.json needs >= 20), and
# `make build` of the rsynced tree in /xlvs; installs /usr/local/bin/xlvs.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
NODE_VERSION=${NODE_VERSION:-20.18.1}
apt-get update -qq
apt-get install -y -qq --no-install-recommends clang llvm libbpf-dev libbpf1 bpftool iproute2 make \
  gcc libc6-dev ethtool curl ca-certificates xz-utils tcpdump >/dev/null
if ! command -v node >/dev/null || ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
  arch=$(dpkg --print-architecture); case "$arch" in amd64) arch=x64 ;; arm64) arch=arm64 ;; esac
  curl -fsSL "https://nodejs.org/dist/v${NODE_VERSION}/node-v${NODE_VERSION}-linux-${arch}.tar.xz" | tar -xJ -C /usr/local --strip-components=1
fi
cd /xlvs
make build
ln -sf /xlvs/bin/xlvs.js /usr/local/bin/xlvs
# The LAN interface is the one holding LAN_ADDR (eth1 on most boxes: eth0 is Vagrant's NAT).
lan_if() { ip -o -4 addr show | awk -v a="$1" '{split($4,x,"/"); if (x[1]==a) print $2}'; }
echo "LAN_IF=$(lan_if "$LAN_ADDR")" > /etc/xlvs-lab.env
