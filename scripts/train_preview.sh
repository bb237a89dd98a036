#!/usr/bin/env bash
# The recipe for the preview models shipped in weights/ (64x64 inputs, 16x16 tokens, 128x128 decoded images),
# from nothing, on a CPU:
# the same configs (configs/preview/), data seeds, step counts and chains of --resume / init_from that made
# the shipped models, as one fixed sequence of stages (about 15 hours on a 2-core CPU; docs/TRAINING.md
# says what each stage does; docs/CHANGELOG.md why each stage exists, what it changed, and how closely a
# re-run reproduces the shipped models).
#
#   scripts/train_preview.sh                                # everything; writes the models into weights/
#   MAX_MINUTES=120 scripts/train_preview.sh                # in pieces: stop after 120 min (exit status 75) ...
#   MAX_MINUTES=120 RESUME=1 scripts/train_preview.sh       # ... and go on from there, as often as needed
#   QUICK=1 scripts/train_preview.sh                        # every stage with tiny data and step counts (minutes;
#                                                           #   the tests run it): checks the recipe, not the models
#
# Work goes into $RUNS (runs/preview; QUICK: runs/preview_quick): data/ (rendered once), weights/ (the
# models as the stages leave them), one folder per training run, done/ (one file per finished stage).
# The last stage copies the seven shipped folders into $OUT (weights; QUICK: $RUNS/out). A run without
# RESUME=1 refuses to start over an existing $RUNS. With RESUME=1 finished stages are skipped and the
# interrupted one goes on: each training run from its checkpoint, a decoder fine-tune (no checkpoints)
# from its start. MAX_MINUTES is a budget for the whole invocation, checked before each run and passed
# to the trainers (max_minutes=); a decoder fine-tune, once started, runs to its end.
#
# Adding a stage: write a function stage_<name> below and put <name> into STAGES before "publish".
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK="${QUICK:-0}"
if [ "$QUICK" = "1" ]; then
  RUNS="${RUNS:-runs/preview_quick}"; OUT="${OUT:-$RUNS/out}"
  N_FIRST=32; N_MORE=32; N_PAIRS=16   # rendered samples per data set (full: 1500, 6000; 5000 decoder pairs)
  N_LAYOUT=32; N_WIDE=32              # (full: 12000 layout-mix samples, 10000 humans for stage follow)
  QUICK_EXTRA=(threads=1)
  export OMP_NUM_THREADS=1
else
  RUNS="${RUNS:-runs/preview}"; OUT="${OUT:-weights}"
  N_FIRST=1500; N_MORE=6000; N_PAIRS=5000
  N_LAYOUT=12000; N_WIDE=10000
  QUICK_EXTRA=()
fi
DATA="$RUNS/data"
W="$RUNS/weights"
MAX_MINUTES="${MAX_MINUTES:-0}"
STARTED=$(date +%s)
TASKS="completion depth labels superres pose"

CONFIGS=configs/preview
source scripts/recipe_lib.sh

decoder() {  # run finetune_decoder options...: fine-tune the image VQGAN's decoder alone (tokens unchanged) on
  # a copy in $RUNS/run, so that an interrupted fine-tune starts again from the same weights; then it replaces
  # the working image VQGAN (the stage's spread puts it into the transformers)
  local run=$1; shift
  if [ ! -f "$RUNS/$run/finished" ]; then
    budget "$run" >/dev/null
    echo "== decoder $run: $*"
    rm -rf "${RUNS:?}/$run"; mkdir -p "$RUNS/$run"; cp -r "$W/vqgan_image" "$RUNS/$run/vqgan_image"
    python -m scripts.finetune_decoder --vqgan "$RUNS/$run/vqgan_image" "$@"
    touch "$RUNS/$run/finished"
  fi
  rm -rf "${W:?}/vqgan_image"; cp -r "$RUNS/$run/vqgan_image" "$W/vqgan_image"
}

spread() {  # the image VQGAN's decoder into every transformer folder, and their storage in fp16
  local all=() t
  for t in $TASKS; do all+=("$W/$t"); done
  python -m scripts.finetune_decoder --vqgan "$W/vqgan_image" --copy-only --into "${all[@]}"
  python -m scripts.shrink_weights "${all[@]}"
}

# --- the stages, in order -------------------------------------------------------------------------------

stage_data() {  # every data set the stages read: 1500 landscapes and 1500 humans (seed 0), 6000 humans
  # (seed 3), 6000 landscapes each of seeds 4, 5, 6; images64 (the first two interleaved: the image VQGAN
  # serves both) and images64_more (images64, then seeds 4 and 3 interleaved: 15000 images)
  cache landscape "$N_FIRST" 0 landscape64
  cache human "$N_FIRST" 0 human64
  cache human "$N_MORE" 3 human64_seed3
  cache landscape "$N_MORE" 4 landscape64_seed4
  cache landscape "$N_MORE" 5 landscape64_seed5
  cache landscape "$N_MORE" 6 landscape64_seed6
  python - "$DATA" <<'PY'
import sys
import numpy as np
d = sys.argv[1]
def mix(a, b):  # landscapes and humans interleaved
    a, b = (np.load(f"{d}/{x}/shard_00000.npz")["image"] for x in (a, b))
    img = np.empty((len(a) + len(b),) + a.shape[1:], np.uint8)
    img[0::2], img[1::2] = a, b
    return img
first = mix("landscape64", "human64")
np.savez(f"{d}/images64.npz", image=first)
np.savez(f"{d}/images64_more.npz", image=np.concatenate([first, mix("landscape64_seed4", "human64_seed3")]))
PY
}

stage_vqgans() {  # the image VQGAN (GAN from 2/3 of its steps) and the four cond-stage VQGANs (no GAN)
  local s; s=$(steps 1200)
  train vqgan vqgan_image vqgan_image - steps="$s" "loss.disc_start=$(( s * 2 / 3 ))" \
    data.root="$DATA/images64.npz" export_dir="$W/vqgan_image"
  local v root
  for v in depth:landscape64 labels:landscape64 lowres:images64.npz skeleton:human64; do
    root="$DATA/${v#*:}"; [[ "$root" == *.npz ]] || root="$root/shard_00000.npz"
    train vqgan "vqgan_${v%%:*}" "vqgan_${v%%:*}" - steps="$(steps 400)" loss.disc_start=100000000 \
      data.root="$root" export_dir="$W/vqgan_${v%%:*}"
  done
}

stage_transformers() {  # the five transformers, 600 steps each, on the first data
  local t cond root
  for t in completion:-:landscape64 depth:depth:landscape64 labels:labels:landscape64 \
           superres:lowres:images64.npz pose:skeleton:human64; do
    IFS=: read -r t cond root <<<"$t"
    root="$DATA/$root"; [[ "$root" == *.npz ]] || root="$root/shard_00000.npz"
    local c=(); [ "$cond" != "-" ] && c=(cond_stage="$W/vqgan_$cond")
    train transformer "transformer_$t" "transformer_$t" - steps="$(steps 600)" first_stage="$W/vqgan_image" \
      "${c[@]}" data.root="$root" export_dir="$W/$t"
  done
}

stage_pixel_baseline() {  # the pixel-level baseline: the completion GPT's size over 32x32 palette pixels, 1/4 of its
  # steps (the same tokens); stored in fp16 like every shipped model
  train transformer pixel_baseline pixel_baseline - steps="$(steps 150)" \
    data.root="$DATA/landscape64/shard_00000.npz" export_dir="$W/pixel_baseline"
  python -m scripts.shrink_weights "$W/pixel_baseline"
}

stage_decoder_l1() {  # 2b: 600 decoder steps (L1) remove the checkerboard of the image VQGAN's short GAN phase; from
  # here on the image VQGAN and the transformers are stored in fp16 (finetune_decoder, spread), as first committed
  decoder decoder_l1 --data "$DATA/images64.npz" --steps "$(steps 600)"
  spread
}

stage_pose_longer() {  # 2c: the pose transformer trained on, to 2400 steps on its data, then to 4800 on 6000 new humans
  train transformer transformer_pose transformer_pose_long transformer_pose steps="$(steps 2400)" \
    first_stage="$W/vqgan_image" cond_stage="$W/vqgan_skeleton" data.root="$DATA/human64/shard_00000.npz" \
    export_dir="$RUNS/transformer_pose_long/export"
  train transformer transformer_pose transformer_pose_long2 transformer_pose_long steps="$(steps 4800)" \
    first_stage="$W/vqgan_image" cond_stage="$W/vqgan_skeleton" data.root="$DATA/human64_seed3/shard_00000.npz" \
    export_dir="$W/pose"
  spread
}

stage_more_data() {  # 2d: the decoder on 15000 images (3500 steps L1, then 1500 with L1 + (1 - SSIM)); the labels,
  # depth and super-resolution transformers trained on from their 600-step runs on new data
  OMP_NUM_THREADS=1 decoder decoder_more --data "$DATA/images64_more.npz" --steps "$(steps 3500)" --batch 16 \
    --lr 2e-4 --schedule cosine
  decoder decoder_ssim1 --data "$DATA/images64_more.npz" --steps "$(steps 1500)" --batch 16 --lr 1e-4 \
    --schedule cosine --ssim-weight 1.0 --ssim-window 7
  local t name cond root n
  for t in labels:labels:landscape64_seed4/shard_00000.npz:2400 depth:depth:landscape64_seed4/shard_00000.npz:2000 \
           superres:lowres:images64_more.npz:2400; do
    IFS=: read -r name cond root n <<<"$t"
    OMP_NUM_THREADS=1 train transformer "transformer_$name" "transformer_${name}_long" "transformer_$name" \
      steps="$(steps "$n")" first_stage="$W/vqgan_image" cond_stage="$W/vqgan_$cond" data.root="$DATA/$root" \
      export_dir="$W/$name"
  done
  spread
}

stage_labels_ft() {  # 2e: the decoder with L1 + 2 x (1 - SSIM); the labels transformer fine-tuned from itself on seed 5
  OMP_NUM_THREADS=1 decoder decoder_ssim2 --data "$DATA/images64_more.npz" --steps "$(steps 3000)" --batch 16 \
    --lr 1e-4 --schedule cosine --ssim-weight 2.0 --ssim-window 7
  OMP_NUM_THREADS=1 train transformer transformer_labels transformer_labels_ft - first_stage="$W/labels" \
    cond_stage="$W/labels" init_from="$W/labels" data.root="$DATA/landscape64_seed5/shard_00000.npz" \
    steps="$(steps 2400)" lr=3e-4 warmup_steps=50 threads=1 export_dir="$W/labels"
  spread
}

stage_decoder_ssim4() {  # 2f: the decoder with L1 + 4 x (1 - SSIM)
  OMP_NUM_THREADS=1 decoder decoder_ssim4 --data "$DATA/images64_more.npz" --steps "$(steps 2400)" --batch 16 \
    --lr 1e-4 --schedule cosine --ssim-weight 4.0 --seed 5 --ssim-window 7
  spread
}

stage_decoder_grown() {  # 2g: the decoder grown by a res block at 64x64 and at 32x32, then L1 + 4 x (1 - SSIM), 11x11 SSIM
  OMP_NUM_THREADS=1 decoder decoder_grown --data "$DATA/images64_more.npz" --steps "$(steps 2600)" --batch 16 \
    --lr 1e-4 --schedule cosine --ssim-weight 4.0 --seed 6 --grow-decoder 2 2 1
  spread
}

stage_superres_lowres512() {  # 2h: a new low-res VQGAN (512 codes, 6000 steps of 32), and the super-resolution
  # transformer started again from its GPT with the new cond tokens
  OMP_NUM_THREADS=1 train vqgan vqgan_lowres vqgan_lowres_long - steps="$(steps 6000)" batch_size=32 threads=1 \
    loss.disc_start=100000000 model.n_embed=512 data.root="$DATA/images64_more.npz" \
    export_dir="$RUNS/vqgan_lowres_long/export" ckpt_every=1000 log_every=100
  train transformer transformer_superres transformer_superres_lr - first_stage="$W/vqgan_image" \
    cond_stage="$RUNS/vqgan_lowres_long/export" init_from="$W/superres" init_from_other_tokens=true \
    data.root="$DATA/images64_more.npz" steps="$(steps 2000)" lr=3e-4 warmup_steps=50 threads=2 \
    export_dir="$W/superres" ckpt_every=400 log_every=50
  spread
}

stage_labels_newcond() {  # 2i: a new label VQGAN (2260 steps on seed 4), and the labels transformer started again
  # from its GPT with the new cond tokens (on seed 5)
  OMP_NUM_THREADS=1 train vqgan vqgan_labels vqgan_labels_6k - steps="$(steps 2260)" threads=1 \
    loss.disc_start=100000000 data.root="$DATA/landscape64_seed4/shard_00000.npz" \
    export_dir="$RUNS/vqgan_labels_6k/export" ckpt_every=250 log_every=50
  train transformer transformer_labels transformer_labels_newcond - first_stage="$W/labels" \
    cond_stage="$RUNS/vqgan_labels_6k/export" init_from="$W/labels" init_from_other_tokens=true \
    data.root="$DATA/landscape64_seed5/shard_00000.npz" steps="$(steps 2400)" lr=3e-4 warmup_steps=50 threads=2 \
    export_dir="$W/labels" ckpt_every=400 log_every=50
  spread
}

stage_labels_seed6() {  # 2j: the labels transformer trained on from itself, 3600 steps on seed 6
  train transformer transformer_labels transformer_labels_seed6 - first_stage="$W/labels" cond_stage="$W/labels" \
    init_from="$W/labels" data.root="$DATA/landscape64_seed6/shard_00000.npz" steps="$(steps 3600)" lr=3e-4 \
    warmup_steps=50 threads=2 export_dir="$W/labels" ckpt_every=400 log_every=50
  spread
}

superres_x8() {  # run steps lr ckpt_every: the super-resolution transformer trained on as x8 (8x8 inputs enlarged 2x)
  train transformer transformer_superres "$1" - first_stage="$W/superres" cond_stage="$W/superres" \
    init_from="$W/superres" cond_upsample=2 data.cond_key=lowres8 data.root="$DATA/images64_more.npz" \
    steps="$(steps "$2")" lr="$3" warmup_steps=50 threads=2 export_dir="$W/superres" ckpt_every="$4" log_every=50
  spread
}

stage_superres_x8() {  # 2k: super-resolution x8 instead of x4, 2000 steps from the x4 model
  superres_x8 transformer_superres_x8 2000 3e-4 400
}

stage_superres_x8_longer() {  # 2l: the x8 model trained on, 3000 steps
  superres_x8 transformer_superres_x8b 3000 2e-4 500
}

stage_decoder128() {  # 2m: the 128-px decoder for the same tokens (python -m taming_lite.train decoder; encoder and
  # codebook frozen): one more upsampling level trained against 128-px renders, 1794 steps on 5000 scene pairs
  # (seed 0), nearest doubling in the new level as that run went; shipped with bilinear doubling (same weights:
  # nearest had grown a row alternation in the GAN phase), into weights/vqgan_image and every transformer.
  # (configs/preview/decoder128_gan.yaml, a GAN stage on top, was tried and not shipped: weights/README.md)
  local all=() t
  train decoder decoder128 decoder128 - vqgan="$W/vqgan_image" steps="$(steps 1794)" \
    data.num_samples="$N_PAIRS" export_dir="$RUNS/decoder128/export"
  for t in $TASKS; do all+=("$W/$t"); done
  python -m scripts.finetune_decoder --vqgan "$W/vqgan_image" --decoder-from "$RUNS/decoder128/export" \
    --extra-upsample bilinear --into "${all[@]}"
}

stage_follow() {  # 2n: models that follow what a person draws. New data: 12000 samples of the layout mix (seed 7:
  # 3D renders, layout-first renders of random label and depth layouts, composites; taming_lite.data.layout) and
  # 10000 humans, every other one in a pose over the whole joint ranges (seed 8). The label VQGAN, which had never
  # seen such maps, fine-tuned on the mix (1500 steps); the labels transformer fine-tuned from itself on its new
  # cond tokens (800 steps), the pose transformer on the new humans (1000 steps; the shipped run was stopped at
  # 270 and resumed: same schedule), the depth transformer on the mix with its own depth VQGAN kept (800 steps;
  # a new depth VQGAN fine-tuned on the mix with the transformer relearning its tokens made it worse, so that one
  # is not in the recipe: docs/CHANGELOG.md); 15 % of their conditions dropped (classifier-free guidance;
  # default scale 2).
  cache layout "$N_LAYOUT" 7 layout64_seed7
  cache human_wide "$N_WIDE" 8 humanwide64_seed8
  local t lay="$DATA/layout64_seed7/shard_00000.npz"
  train vqgan vqgan_labels vqgan_labels_follow - init_from="$W/labels" init_from_stage=cond_stage \
    steps="$(steps 1500)" lr=2e-4 loss.disc_start=100000000 data.root="$lay" \
    export_dir="$RUNS/vqgan_labels_follow/export" threads=1 ckpt_every=250 log_every=25
  train transformer transformer_labels transformer_labels_follow - first_stage="$W/labels" \
    cond_stage="$RUNS/vqgan_labels_follow/export" init_from="$W/labels" init_from_other_tokens=true data.root="$lay" \
    steps="$(steps 800)" lr=3e-4 warmup_steps=50 cond_drop=0.15 guidance=2.0 threads=1 \
    export_dir="$RUNS/follow_export/labels" ckpt_every=200 log_every=25
  train transformer transformer_pose transformer_pose_follow - first_stage="$W/pose" cond_stage="$W/pose" \
    init_from="$W/pose" data.root="$DATA/humanwide64_seed8/shard_00000.npz" steps="$(steps 1000)" lr=3e-4 \
    warmup_steps=50 cond_drop=0.15 guidance=2.0 threads=1 export_dir="$RUNS/follow_export/pose" ckpt_every=250 \
    log_every=25
  train transformer transformer_depth transformer_depth_follow - first_stage="$W/depth" cond_stage="$W/depth" \
    init_from="$W/depth" data.root="$lay" steps="$(steps 800)" lr=3e-4 warmup_steps=50 cond_drop=0.15 guidance=2.0 \
    threads=2 export_dir="$RUNS/follow_export/depth" ckpt_every=200 log_every=25
  for t in labels pose depth; do
    rm -rf "${W:?}/$t"; cp -r "$RUNS/follow_export/$t" "$W/$t"
  done
  spread
}

stage_publish() {  # the seven shipped folders into $OUT
  local m
  mkdir -p "$OUT"
  for m in vqgan_image $TASKS pixel_baseline; do
    rm -rf "${OUT:?}/$m"; cp -r "$W/$m" "$OUT/$m"
  done
  echo "== wrote $OUT/{vqgan_image,${TASKS// /,},pixel_baseline}"
}

STAGES=(data vqgans transformers pixel_baseline decoder_l1 pose_longer more_data labels_ft decoder_ssim4
        decoder_grown superres_lowres512 labels_newcond labels_seed6 superres_x8 superres_x8_longer decoder128
        follow publish)

run_stages
echo "done: the preview models are in $OUT ($(( ($(date +%s) - STARTED) / 60 )) min)"
