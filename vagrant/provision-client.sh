#!/usr/bin/env bash
# The client: four more source addresses on the LAN (like the namespace lab's .10-.14), so
# hashing by source shows several reals.
set -euo pipefail
. /etc/xlvs-lab.env
base=${LAN_ADDR%.*}; last=${LAN_ADDR##*.}
for i in 1 2 3 4; do ip addr replace "$base.$((last + i))/24" dev "$LAN_IF"; done
echo "client ready: curl http://<VIP>/ from $LAN_ADDR..$base.$((last + 4)) (see config/lab.yaml)"
