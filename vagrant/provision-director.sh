#!/usr/bin/env bash
# Director N: its topology derived from config/lab.yaml (`xlvs lab layout --director N`), the
# route to the TUN segment, and `xlvs run -c /etc/xlvs/topology.yaml` as a systemd service.
set -euo pipefail
n=$1
. /etc/xlvs-lab.env
mkdir -p /etc/xlvs
xlvs lab layout -c "$LAB_FILE" --prefix vg --director "$n" --interface "$LAN_IF" --pin-root /sys/fs/bpf/xlvs > /etc/xlvs/topology.yaml
if [ -n "$TUN_CIDR" ]; then
  ip link set dev "$LAN_IF" mtu "$TUN_MTU"
  ip route replace "$TUN_CIDR" via "$ROUTER_LAN" dev "$LAN_IF"
fi
cat > /etc/systemd/system/xlvs.service <<UNIT
[Unit]
Description=xlvs director (XDP load balancer, VRRP, health checks)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/xlvs run -c /etc/xlvs/topology.yaml
ExecReload=/bin/kill -HUP \$MAINPID
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now xlvs.service
