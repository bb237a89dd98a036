#!/usr/bin/env bash
# Train the small "preview" defaults shipped in weights/ (64x64 images, 16x16 tokens) on a CPU in
# about an hour: the five VQGANs, then the five transformers, then the pixel-level baseline.
#   scripts/train_preview.sh                 # everything
#   VQGAN_STEPS=300 TRANSFORMER_STEPS=200 scripts/train_preview.sh    # quicker, worse
#   RESUME=1 scripts/train_preview.sh        # continue interrupted runs from their checkpoints
# The full-size recipe (128x128, f=8, hours on a GPU) is scripts/train_defaults.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${VQGAN_STEPS:=1200}" "${COND_VQGAN_STEPS:=400}" "${TRANSFORMER_STEPS:=600}"
: "${PIXEL_STEPS:=$((TRANSFORMER_STEPS / 4))}"
RESUME_FLAG=""
[ "${RESUME:-0}" = "1" ] && RESUME_FLAG="--resume"
run() {  # kind config steps [overrides...]
  local kind=$1 cfg=$2 steps=$3; shift 3
  echo "== $kind $cfg ($steps steps)"
  # shellcheck disable=SC2086
  python -m taming_lite.train "$kind" --config "configs/preview/$cfg.yaml" $RESUME_FLAG "steps=$steps" progress=false "$@"
}
# 0. data: 1500 landscapes and 1500 humans at 64x64, rendered once (about a minute) into npz caches
if [ ! -f runs/data/images64.npz ]; then
  python -m taming_lite.data cache --source landscape --n 1500 --size 64 --format npz --shard-size 2000 --out runs/data/landscape64 --quiet
  python -m taming_lite.data cache --source human --n 1500 --size 64 --format npz --shard-size 2000 --out runs/data/human64 --quiet
  python - <<'PY'
import numpy as np  # landscapes and humans interleaved: the image VQGAN serves both
a = np.load("runs/data/landscape64/shard_00000.npz")["image"]
b = np.load("runs/data/human64/shard_00000.npz")["image"]
img = np.empty((len(a) + len(b),) + a.shape[1:], np.uint8)
img[0::2], img[1::2] = a, b
np.savez("runs/data/images64.npz", image=img)
PY
fi
# 1. first and cond stages
run vqgan vqgan_image "$VQGAN_STEPS" "loss.disc_start=$((VQGAN_STEPS * 2 / 3))"
for v in depth labels lowres skeleton; do  # cond stages: L1/BCE + codebook only (no GAN) in the preview
  run vqgan "vqgan_$v" "$COND_VQGAN_STEPS" "loss.disc_start=100000000"
done
# 2. transformers (read the VQGANs above from weights/)
for t in completion depth labels superres pose; do
  run transformer "transformer_$t" "$TRANSFORMER_STEPS"
done
# 2b. the image VQGAN's short GAN phase leaves a checkerboard in one corner: fine-tune its decoder
#     alone (L1; tokens unchanged, so the transformers stay valid) and put it into every transformer
python scripts/finetune_decoder.py --vqgan weights/vqgan_image --data runs/data/images64.npz --steps 600 \
  --into weights/completion weights/depth weights/labels weights/superres weights/pose
# 2c. the pose transformer was the weakest (PCK 0.22 after 600 steps): continue it, first on the same
#     1500 humans to 2400 steps, then on 6000 new humans (base seed 3) to 4800 steps, each time
#     resuming the previous run; then give it the fine-tuned decoder and fp16 storage like the others
if [ "${POSE_LONGER:-1}" = "1" ]; then
  python -m taming_lite.data cache --source human --n 6000 --size 64 --seed 3 --format npz --shard-size 6000 \
    --out runs/data/human64_seed3 --quiet
  python -m taming_lite.train transformer --config configs/preview/transformer_pose.yaml --resume runs/preview/transformer_pose \
    out_dir=runs/preview/transformer_pose_long export_dir=runs/preview/transformer_pose_long/export steps=2400 progress=false
  python -m taming_lite.train transformer --config configs/preview/transformer_pose.yaml --resume runs/preview/transformer_pose_long \
    out_dir=runs/preview/transformer_pose_long2 export_dir=weights/pose data.root=runs/data/human64_seed3/shard_00000.npz \
    steps=4800 progress=false
  python scripts/finetune_decoder.py --vqgan weights/vqgan_image --copy-only --into weights/pose
  python scripts/shrink_weights.py weights/pose
fi
# 3. the pixel-level baseline: the completion model's GPT over 32x32 palette pixels, 1/4 of its steps (same tokens)
run transformer pixel_baseline "$PIXEL_STEPS"
echo "done: weights/ holds the preview VQGANs, transformers and the pixel baseline"
