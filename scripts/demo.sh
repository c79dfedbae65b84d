#!/usr/bin/env bash
# The main job on the embedded default (no GPU, no weights): the example music -> an SMPL dance (.npz) and
# a preview video, then the dance rendered onto the example reference image. Output in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
MACE_EXTRAS=${MACE_EXTRAS:-dev} bash scripts/setup.sh  # the demo needs no Blender module
out=${1:-out/demo}
.venv/bin/mace-dance generate examples/music/groove_120bpm.ogg -o "$out" --seed 7
.venv/bin/mace-dance render "$out/groove_120bpm.npz" --reference examples/reference.png \
  --music examples/music/groove_120bpm.ogg -o "$out/groove_120bpm_dance.mp4" \
  --pose-video "$out/groove_120bpm_dance_pose.mp4"
echo "==> done: $out/groove_120bpm.npz (motion), $out/groove_120bpm_preview.mp4 (preview),"
echo "          $out/groove_120bpm_dance.mp4 (the dance video), $out/groove_120bpm_dance_pose.mp4 (its pose video)"
