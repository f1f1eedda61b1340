#!/usr/bin/env bash
# How models/road_following_resnet18.pth was made: expert-labelled simulator data on every
# built-in track (domain randomisation on), then ResNet-18 trained from scratch on one GPU.
# Usage: models/train_shipped_model.sh OUT_DIR [FRAMES_PER_RUN] [EPOCHS]
set -euo pipefail
out=${1:?output folder}; frames=${2:-3000}; epochs=${3:-30}
data=${DATA:-/tmp/jetracer-data}
mkdir -p "$out" "$data"
seed=0
for track in oval technical chicane figure8; do
  for run in 1 2; do
    seed=$((seed + 1))
    python3 -m jetracer collect --sim --track "$track" --frames "$frames" --out "$data/$track-$run" --seed "$seed" \
      > "$data/collect-$track-$run.log" 2>&1 &
  done
done
wait
cat "$data"/collect-*.log | grep wrote
python3 -m jetracer train "$data"/*/ --arch resnet18 --epochs "$epochs" --batch-size 128 --workers 14 --half \
  --out "$out/road_following_resnet18.pth" > "$out/train.log" 2>&1
tail -c 2000 "$out/train.log"
