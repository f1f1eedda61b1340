#!/usr/bin/env bash
# The room-randomised training set shared by train_fast.sh and train_rooms_resnet18.sh: expert-labelled
# frames with the racer's throttle labels on the three built-in training shapes, plus SHAPES procedural
# shapes per shard when SHAPES > 0 (random:K, jetracer.sim.shapes). figure8 and models/heldout/*.json stay
# held out, and the procedural generator (rounded polygons) does not draw their radial outlines. Collected
# as JOBS shards in parallel: shard i uses seed SEED+i, FRAMES/JOBS frames and the shapes
# random:(SEED+i)*SHAPES .. +SHAPES-1, so a 16-core GPU machine collects 12,000 frames in about a minute.
# TAPE=F draws that share of the rooms as bare tape edges on a pale floor (`jetracer collect --tape-share`).
# The same FRAMES, SEED, JOBS, SHAPES and TAPE give the same files. `jetracer train` takes the shard folders.
# Usage: models/collect_rooms.sh DATA_DIR [FRAMES] [SEED]   (JOBS=8, SHAPES=0, TAPE=0 by default; PYTHON=python3)
set -euo pipefail
data=${1:?usage: models/collect_rooms.sh DATA_DIR [FRAMES] [SEED]}; frames=${2:-12000}; seed=${3:-30}
jobs=${JOBS:-8}; shapes=${SHAPES:-0}; tape=${TAPE:-0}; py=${PYTHON:-python3}
per=$(( (frames + jobs - 1) / jobs ))
mkdir -p "$data"
pids=()
for i in $(seq 0 $((jobs - 1))); do
  shard="$data/shard$i"
  [ -d "$shard/apex" ] && continue
  tracks=(oval technical chicane)
  for ((k = 0; k < shapes; k++)); do tracks+=("random:$(( (seed + i) * shapes + k ))"); done
  $py -m jetracer collect --sim --track "${tracks[@]}" --frames "$per" --seed $((seed + i)) --tape-share "$tape" \
    --out "$shard" > "$data/collect-shard$i.log" 2>&1 &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
[ "$status" = 0 ] || { echo "a collect shard failed: see $data/collect-shard*.log" >&2; exit 1; }
