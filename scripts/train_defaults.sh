#!/usr/bin/env bash
# Train every default model of the demo, in order: the five VQGANs, then the five transformers.
#
#   scripts/train_defaults.sh                  # full run (CPU: many hours; one GPU: much less)
#   SCALE=preview scripts/train_defaults.sh    # a few minutes per model: checks the whole pipeline
#   VQGAN_STEPS=3000 TRANSFORMER_STEPS=2000 NUM_SAMPLES=1000 scripts/train_defaults.sh
#   LAUNCH="torchrun --nproc_per_node=2 -m" scripts/train_defaults.sh     # DDP (GPUs, or gloo on CPU)
#   EXTRA="device=cuda precision=bf16" scripts/train_defaults.sh
#
# Writes weights/vqgan_{image,depth,labels,lowres,skeleton}/ and weights/{completion,depth,labels,superres,pose}/
# (each a self-contained Net2NetTransformer directory: config.json + model.safetensors), logs and
# checkpoints under runs/. An interrupted model continues with RESUME=1.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE="${SCALE:-full}"
case "$SCALE" in
  full)    : "${VQGAN_STEPS:=20000}" "${TRANSFORMER_STEPS:=20000}" "${NUM_SAMPLES:=4000}" "${SAMPLE_EVERY:=1000}" ;;
  preview) : "${VQGAN_STEPS:=150}"   "${TRANSFORMER_STEPS:=100}"   "${NUM_SAMPLES:=200}"  "${SAMPLE_EVERY:=50}" ;;
  *) echo "SCALE must be 'full' or 'preview' (or set VQGAN_STEPS / TRANSFORMER_STEPS directly)" >&2; exit 2 ;;
esac
# the GAN loss starts halfway through the VQGAN's steps (the configs' 10000 of 20000)
DISC_START="${DISC_START:-$((VQGAN_STEPS / 2))}"
LAUNCH="${LAUNCH:-python -m}"
EXTRA="${EXTRA:-}"
RESUME_FLAG=""
[ "${RESUME:-0}" = "1" ] && RESUME_FLAG="--resume"

common=("data.num_samples=$NUM_SAMPLES" "sample_every=$SAMPLE_EVERY")

vqgan() {  # config name
  echo "== $1 ($VQGAN_STEPS steps)"
  # shellcheck disable=SC2086
  $LAUNCH taming_lite.train vqgan --config "configs/$1.yaml" $RESUME_FLAG \
    "steps=$VQGAN_STEPS" "loss.disc_start=$DISC_START" "${common[@]}" $EXTRA
}

transformer() {
  echo "== $1 ($TRANSFORMER_STEPS steps)"
  # shellcheck disable=SC2086
  $LAUNCH taming_lite.train transformer --config "configs/$1.yaml" $RESUME_FLAG \
    "steps=$TRANSFORMER_STEPS" "warmup_steps=$((TRANSFORMER_STEPS / 40 + 1))" "${common[@]}" $EXTRA
}

# 1. first and cond stages
vqgan vqgan_image      # -> weights/vqgan_image     (landscapes + humans, RGB)
vqgan vqgan_depth      # -> weights/vqgan_depth     (landscape depth)
vqgan vqgan_labels     # -> weights/vqgan_labels    (landscape one-hot labels, BCE)
vqgan vqgan_lowres     # -> weights/vqgan_lowres    (32x32 low-res images)
vqgan vqgan_skeleton   # -> weights/vqgan_skeleton  (human skeleton images)

# 2. transformers (read the VQGANs above from weights/)
transformer transformer_completion   # -> weights/completion
transformer transformer_depth        # -> weights/depth
transformer transformer_labels       # -> weights/labels
transformer transformer_superres     # -> weights/superres
transformer transformer_pose         # -> weights/pose

# 3. the pixel-level baseline for the completion comparison (same GPT, 1/4 of the steps: same tokens)
echo "== pixel_baseline ($((TRANSFORMER_STEPS / 4)) steps)"
# shellcheck disable=SC2086
$LAUNCH taming_lite.train transformer --config configs/pixel_baseline.yaml $RESUME_FLAG \
  "steps=$((TRANSFORMER_STEPS / 4))" "warmup_steps=$((TRANSFORMER_STEPS / 160 + 1))" "${common[@]}" $EXTRA

echo "done: weights/ holds the five VQGANs, the five transformers and the pixel baseline"
