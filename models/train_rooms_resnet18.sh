#!/usr/bin/env bash
# ResNet-18 trained on the new domain randomisation (rooms: floors, tape styles, no centre line,
# light, camera mount, blur, clutter) with the racer's throttle labels as a third output.
# Not shipped (models/README.md: it leaves the road in two held-out rooms without stopping); kept as the
# comparison the fast network is measured against. On one NVIDIA H200 (16 CPU cores): collect 60 s,
# train 278 s (sharing the machine with train_fast.sh's training), scorecard ~60 s per shape.
# Usage: models/train_rooms_resnet18.sh [OUT_DIR] [DATA_DIR]
set -euo pipefail
out=${1:-models}; data=${2:-data/sim-rooms}
py=${PYTHON:-python3}
# training shapes only: figure8 and models/heldout/*.json are the held-out shapes
PYTHON=$py "$(dirname "$0")/collect_rooms.sh" "$data" 12000 30
$py -m jetracer train "$data"/shard* --arch resnet18 --epochs 25 --batch-size 64 --half --throttle \
  --out "$out/road_following_resnet18_rooms.pth"
$py -m jetracer optimize "$out/road_following_resnet18_rooms.pth" --backend auto --precision fp16 \
  --out "$out/road_following_resnet18_rooms.engine"
for t in oval technical chicane figure8; do
  $py -m jetracer drive --sim --track "$t" --laps 3 --engine "$out/road_following_resnet18_rooms.pth" \
    --metrics-json "$out/rooms_resnet18_$t.json"
done
$py -m jetracer.models.scorecard "$out/road_following_resnet18_rooms.pth" --laps 2 \
  --out "$out/rooms_resnet18_heldout.md" --json "$out/rooms_resnet18_heldout.json"
