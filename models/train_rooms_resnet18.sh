#!/usr/bin/env bash
# ResNet-18 trained on the new domain randomisation (rooms: floors, tape styles, no centre line,
# light, camera mount, blur, clutter) with the racer's throttle labels as a third output.
# Not run yet: needs a GPU session. Expected on one H100/H200: collect ~4 min (CPU-bound,
# ~60 frames/s per process), train ~4 min (25 epochs of 12,000 frames), optimize < 1 min,
# scorecard ~6 min on the GPU's torch backend.
# Usage: models/train_rooms_resnet18.sh [OUT_DIR] [DATA_DIR]
set -euo pipefail
out=${1:-models}; data=${2:-data/sim-rooms}
py=${PYTHON:-python3}
# training shapes only: figure8 and models/heldout/*.json are the held-out shapes
$py -m jetracer collect --sim --track oval technical chicane --frames 12000 --seed 30 --out "$data"
$py -m jetracer train "$data" --arch resnet18 --epochs 25 --batch-size 64 --half --throttle \
  --out "$out/road_following_resnet18_rooms.pth"
$py -m jetracer optimize "$out/road_following_resnet18_rooms.pth" --backend auto --precision fp16 \
  --out "$out/road_following_resnet18_rooms.engine"
for t in oval technical chicane figure8; do
  $py -m jetracer drive --sim --track "$t" --laps 3 --engine "$out/road_following_resnet18_rooms.pth" \
    --metrics-json "$out/rooms_resnet18_$t.json"
done
$py -m jetracer.models.scorecard "$out/road_following_resnet18_rooms.pth" --laps 2 \
  --out "$out/rooms_resnet18_heldout.md" --json "$out/rooms_resnet18_heldout.json"
