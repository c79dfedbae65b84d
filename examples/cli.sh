#!/usr/bin/env bash
# The command line, step by step (run from the repository root after `bash scripts/setup.sh`).
set -euo pipefail
export PATH="$PWD/.venv/bin:$PATH"
out=${1:-out/cli}

mace-dance info                                                     # what is installed, where weights go
mace-dance generate examples/music/groove_120bpm.ogg -o "$out" --seed 3 --start 4 --duration 12
mace-dance render "$out/groove_120bpm.npz" --reference examples/reference.png \
  --keypoints examples/reference_keypoints.json \
  --music examples/music/groove_120bpm.ogg --music-start 4 -o "$out/dance.mp4" --width 360 --height 640 \
  --pose-video "$out/dance_pose.mp4"
mace-dance eval-video "$out/dance.mp4" --pose-video "$out/dance_pose.mp4"   # consistency, pose agreement
echo "==> $out/dance.mp4"
