#!/usr/bin/env bash
# Real N: `xlvs realserver up` with the VIPs config/lab.yaml gives it (DR on the LAN interface;
# TUN decap on the second NIC when it is a TUN real), then the lab's HTTP/echo servers.
set -euo pipefail
n=$1
. /etc/xlvs-lab.env
layout=$(xlvs lab layout -c "$LAB_FILE" --prefix vg)
args=$(node -e '
  const L = JSON.parse(process.argv[1]); const r = L.reals[Number(process.argv[2]) - 1];
  const vips = [...new Set([...r.drVips, ...r.tunVips])];
  process.stdout.write(vips.map((v) => "--vip " + v).join(" ") + (r.tunVips.length ? " --tun" : ""));
' "$layout" "$n")
dev=$LAN_IF
if [ -n "$TUN_ADDR" ]; then
  dev=$(ip -o -4 addr show | awk -v a="$TUN_ADDR" '{split($4,x,"/"); if (x[1]==a) print $2}')
  ip link set dev "$dev" mtu "$TUN_MTU"
fi
# /run is tmpfs: a unit re-applies the setup at boot (and `down` on stop restores the sysctls).
cat > /etc/systemd/system/xlvs-realserver.service <<UNIT
[Unit]
Description=xlvs real server: VIPs on lo, ARP sysctls, TUN decap
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/xlvs realserver up $args --dev $dev
ExecStop=/usr/local/bin/xlvs realserver down

[Install]
WantedBy=multi-user.target
UNIT
cat > /etc/systemd/system/xlvs-lab-servers.service <<UNIT
[Unit]
Description=xlvs lab servers (HTTP that names itself on :80, TCP echo on :6379)
After=network-online.target

[Service]
ExecStart=$(command -v node) /xlvs/dist/src/lab/servers.js --name real$n --http 80 --echo 6379
Restart=on-failure

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now xlvs-realserver.service xlvs-lab-servers.service
xlvs realserver status
