#!/usr/bin/env bash
# Train every default model of the demo, in order: the five VQGANs, then the five transformers.
#
#   scripts/train_defaults.sh                  # full run (CPU: many hours; one GPU: much less)
#   SCALE=preview scripts/train_defaults.sh    # a few minutes per model: checks the whole pipeline
#   VQGAN_STEPS=3000 TRANSFORMER_STEPS=2000 NUM_SAMPLES=1000 scripts/train_defaults.sh
#   LAUNCH="torchrun --nproc_per_node=2 -m" scripts/train_defaults.sh     # DDP (GPUs, or gloo on CPU)
#   EXTRA="device=cuda precision=bf16" scripts/train_defaults.sh
#   MAX_MINUTES=150 RESUME=1 scripts/train_defaults.sh    # in pieces: stop after 150 min, go on next time
#
# Writes weights/vqgan_{image,depth,labels,lowres,skeleton}/ and weights/{completion,depth,labels,superres,pose}/
# (each a self-contained Net2NetTransformer directory: config.json + model.safetensors), logs and
# checkpoints under runs/<config name>/. With RESUME=1 every model that has a checkpoint there continues
# from it (a finished one only re-exports; a larger step count trains it on) and the others start.
# MAX_MINUTES is a time budget for the whole script: each model gets what is left of it (the trainers'
# max_minutes=); when it runs out, the model training then saves a checkpoint and the script exits
# with status 75, to be run again with RESUME=1 (keep runs/).
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
MAX_MINUTES="${MAX_MINUTES:-0}"
STARTED=$(date +%s)

common=("data.num_samples=$NUM_SAMPLES" "sample_every=$SAMPLE_EVERY")

train() {  # trainer config-name overrides...: one model, resumed and time-limited as asked
  local trainer=$1 name=$2 flags=() left rc=0
  shift 2
  if [ "${RESUME:-0}" = "1" ] && [ -f "runs/$name/checkpoints/latest.txt" ]; then
    flags+=(--resume)
  fi
  if [ "$MAX_MINUTES" != "0" ]; then
    left=$(awk -v m="$MAX_MINUTES" -v s="$(( $(date +%s) - STARTED ))" 'BEGIN { printf "%.2f", m - s / 60 }')
    if awk -v l="$left" 'BEGIN { exit !(l <= 0) }'; then
      echo "== time budget of $MAX_MINUTES min spent before $name; run again with RESUME=1 to go on" >&2
      exit 75
    fi
    flags+=("max_minutes=$left")
  fi
  # shellcheck disable=SC2086
  $LAUNCH taming_lite.train "$trainer" --config "configs/$name.yaml" "${flags[@]}" "$@" $EXTRA || rc=$?
  if [ "$rc" = 75 ]; then
    echo "== time budget of $MAX_MINUTES min reached during $name (checkpoint saved); run again with RESUME=1 to go on" >&2
  fi
  [ "$rc" = 0 ] || exit "$rc"
}

vqgan() {  # config name
  echo "== $1 ($VQGAN_STEPS steps)"
  train vqgan "$1" "steps=$VQGAN_STEPS" "loss.disc_start=$DISC_START" "${common[@]}"
}

transformer() {
  echo "== $1 ($TRANSFORMER_STEPS steps)"
  train transformer "$1" "steps=$TRANSFORMER_STEPS" "warmup_steps=$((TRANSFORMER_STEPS / 40 + 1))" "${common[@]}"
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
train transformer pixel_baseline "steps=$((TRANSFORMER_STEPS / 4))" "warmup_steps=$((TRANSFORMER_STEPS / 160 + 1))" \
  "${common[@]}"

echo "done: weights/ holds the five VQGANs, the five transformers and the pixel baseline"
