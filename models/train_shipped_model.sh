#!/usr/bin/env bash
# Reproduces models/road_following_resnet18.pth: expert-labelled simulator data (domain
# randomisation and recovery episodes on), then ResNet-18 trained from scratch. The shipped file
# was trained on one H100 (67 s); on a CPU the same commands work, only slower.
# Usage: models/train_shipped_model.sh [OUT_DIR] [DATA_DIR]
set -euo pipefail
out=${1:-models}; data=${2:-data/sim}
python3 -m jetracer collect --sim --track oval technical chicane --frames 3300 --seed 10 --out "$data"
python3 -m jetracer train "$data" --arch resnet18 --epochs 25 --batch-size 64 --half \
  --out "$out/road_following_resnet18.pth"
