#!/usr/bin/env bash
# The router between the LAN and the TUN segment: forwards, with the large MTU on both sides so
# tunnelled full-size frames (1520 bytes) pass.
set -euo pipefail
. /etc/xlvs-lab.env
tun_if=$(ip -o -4 addr show | awk -v a="$TUN_ADDR" '{split($4,x,"/"); if (x[1]==a) print $2}')
ip link set dev "$LAN_IF" mtu "$TUN_MTU"
ip link set dev "$tun_if" mtu "$TUN_MTU"
echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/60-xlvs-router.conf
sysctl -q -p /etc/sysctl.d/60-xlvs-router.conf
