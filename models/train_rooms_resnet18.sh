#!/usr/bin/env bash
# ResNet-18 trained on the domain randomisation (rooms: floors, tape styles, no centre line, light, camera
# mount, blur, clutter) with the racer's throttle labels as a third output, in the same two stages and on the
# same frames as train_fast.sh, so the fast network is compared with a ResNet-18 that saw exactly its data:
# 1. models/collect_rooms.sh (12,000 frames, the three built-in training shapes), 25 epochs;
# 2. the 24,000 frames with 64 procedural shapes (JOBS=16 SHAPES=4, seed 50), 6 more epochs at a quarter of
#    the learning rate.
# Not shipped (22 MB, and no more precise than the fast network on the held-out set: models/README.md); kept
# as the comparison. On one NVIDIA H200 (16 CPU cores): collect 60 + 57 s, train 278 + 167 s (sharing the
# machine with train_fast.sh), scorecard ~60 s per shape.
# Usage: models/train_rooms_resnet18.sh [OUT_DIR] [DATA_DIR]   (stage 2 collects into DATA_DIR's sibling
# sim-shapes/, as train_fast.sh does)
set -euo pipefail
out=${1:-models}; data=${2:-data/sim-rooms}
py=${PYTHON:-python3}
here=$(dirname "$0")
model="$out/road_following_resnet18_rooms.pth"
# training shapes only: figure8 and models/heldout/*.json are the held-out shapes
PYTHON=$py "$here/collect_rooms.sh" "$data" 12000 30
$py -m jetracer train "$data"/shard* --arch resnet18 --epochs 25 --batch-size 64 --half --throttle --out "$model"
shapes_data="$(dirname "$data")/sim-shapes"
SHAPES=4 JOBS=16 PYTHON=$py "$here/collect_rooms.sh" "$shapes_data" 24000 50
rm -f "$model.resume"  # a stale training state would be resumed instead of the finished stage 1
$py -m jetracer train "$shapes_data"/shard* --resume --epochs 6 --batch-size 64 --lr 2.5e-4 --half --throttle \
  --out "$model"
$py -m jetracer optimize "$model" --backend auto --precision fp16 --out "$out/road_following_resnet18_rooms.engine"
for t in oval technical chicane figure8; do
  $py -m jetracer drive --sim --track "$t" --laps 3 --engine "$model" --metrics-json "$out/rooms_resnet18_$t.json"
done
$py -m jetracer.models.scorecard "$model" --laps 2 --out "$out/rooms_resnet18_heldout.md" --json "$out/rooms_resnet18_heldout.json"
