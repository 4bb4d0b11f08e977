#!/usr/bin/env python3
"""Turns the shared harness's generated zone into a zones directory where the broker and
bootstrap names are Switchyard stable names (an inventory) instead of zone records.

The answers stay the same, so the harness's checks still hold: each broker's vm target is
its old address, and each bootstrap's vm pool (weight 100) lists the old bootstrap
addresses; a pod pool (weight 0) is declared too, so every query still makes a draw.

usage: zone_to_inventory.py ZONE_FILE OUT_DIR
"""
import collections
import os
import re
import sys

zone_path, out_dir = sys.argv[1], sys.argv[2]
record = re.compile(r"^(broker-(\d+)|bootstrap)\.([a-z0-9-]+)\s+\d+\s+IN\s+A\s+(\S+)\s*$")
brokers = collections.defaultdict(dict)
bootstrap = collections.defaultdict(list)
kept = []
with open(zone_path) as zone:
    for line in zone:
        match = record.match(line)
        if not match:
            kept.append(line)
            continue
        _, broker_id, cluster, address = match.groups()
        if broker_id:
            brokers[cluster][int(broker_id)] = address
        else:
            bootstrap[cluster].append(address)

os.makedirs(out_dir, exist_ok=True)
with open(os.path.join(out_dir, "kafka.example.zone"), "w") as zone:
    zone.writelines(kept)
with open(os.path.join(out_dir, "kafka.example.yaml"), "w") as inventory:
    inventory.write("ttl: 30\nclusters:\n")
    for cluster in sorted(brokers):
        inventory.write(f"  {cluster}:\n    port: 9092\n    pools: [vm, pod]\n    brokers:\n")
        for broker_id, address in sorted(brokers[cluster].items()):
            pod = "10.250." + ".".join(address.split(".")[2:])
            inventory.write(f"      {broker_id}: {{ vm: {address}, pod: {pod} }}\n")
        targets = ", ".join(bootstrap[cluster])
        inventory.write("    bootstrap:\n      pools:\n")
        inventory.write(f"        vm: {{ weight: 100, targets: [{targets}] }}\n")
        inventory.write("        pod: { weight: 0 }\n")
