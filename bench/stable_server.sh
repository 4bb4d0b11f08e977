#!/usr/bin/env bash
# --server-cmd target for the harness: serves the generated zone with its broker and
# bootstrap names turned into stable names (see zone_to_inventory.py).
# usage: stable_server.sh BINARY PORT ZONE DIR
set -euo pipefail
bin=$1 port=$2 zone=$3 dir=$4
python3 "$(dirname "$0")/zone_to_inventory.py" "$zone" "$dir/stable-zones"
exec "$bin" serve --zones "$dir/stable-zones" --listen "127.0.0.1:$port" --threads 1 --log-level warning --state "$dir/state" --admin none
