#!/usr/bin/env bash
# The recipe for the embedded models with aligned conditioning (docs/CONDITIONING.md), on a CPU:
#   data -> the prefix models of scripts/train_preview.sh, in BASE (kept as they are) -> one aligned transformer
#   per task, started from the prefix model of its task (`init_from`: its GPT and the image positions'
#   embeddings, a fresh cond encoder; the base image VQGAN, so image tokens unchanged; 1500 x 8, about 30-35 min
#   each at one thread) -> a new image first stage: the whole image VQGAN fine-tuned on the "mix" source
#   (configs/aligned/decoder_mix_full.yaml to step 2472, then decoder_mix_aa.yaml, anti-aliased targets, from
#   there to 3000; about 2 s a step at one thread; what each piece did: those configs' headers) -> labels
#   re-tokenized: its aligned model fine-tuned on the new first stage's tokens (`init_from_other_tokens`,
#   1500 x 8, about 20 min at one thread) -> evaluation -> publish. Pose, depth and superres keep the base
#   first stage: the new one does not raise the pose ceiling, and depth re-tokenized the same way followed
#   drawn maps better but held-out renders worse, with a worse Frechet distance (docs/CHANGELOG.md,
#   2026-12-04); RETOKENIZE="depth labels" trains it anyway.
#
#   scripts/train_aligned.sh                               # everything; writes the models into weights/
#   MAX_MINUTES=60 scripts/train_aligned.sh                # in pieces: stop after 60 min (exit status 75) ...
#   MAX_MINUTES=60 RESUME=1 scripts/train_aligned.sh       # ... and go on from there
#   QUICK=1 scripts/train_aligned.sh                       # tiny data and step counts (the tests run it)
#   TASKS="pose" scripts/train_aligned.sh                  # some tasks only (default: pose depth labels, the
#                                                          # shipped ones; TASKS=superres trains one not shipped)
#
# BASE is the folder of the prefix models it starts from (default weights/, as scripts/train_preview.sh
# leaves it; QUICK: weights/) and of the image VQGAN the new first stage starts from ($BASE/vqgan_image).
# Work goes into $RUNS (runs/aligned; QUICK: runs/aligned_quick): data/, one folder per training run, out/
# (the exported models; out/vqgan_mix: the new first stage, not published on its own: the labels folder
# holds it), old_tokens/ (the models of RETOKENIZE before re-tokenizing), eval/ (python -m
# taming_lite.evaluate of each new model and its prefix model, same protocol), done/. The last stage copies
# the task folders into $OUT (weights; QUICK: $RUNS/publish).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK="${QUICK:-0}"
if [ "$QUICK" = "1" ]; then
  RUNS="${RUNS:-runs/aligned_quick}"; OUT="${OUT:-$RUNS/publish}"
  N_LAYOUT=32; N_WIDE=32                  # rendered samples (full: 6000 layout-mix samples, 10000 humans)
  EVAL=(--n 4 --conditions 1 --samples 2 --user-conditions 2)
  QUICK_EXTRA=(threads=1 ckpt_every=0)
  FIRST_DATA=(data.num_samples=8 batch_size=4)  # rendered pairs of the first stage (full: 4000, batch 8)
  export OMP_NUM_THREADS=1
else
  RUNS="${RUNS:-runs/aligned}"; OUT="${OUT:-weights}"
  N_LAYOUT=6000; N_WIDE=10000
  EVAL=(--n 100 --conditions 4 --samples 3 --user-conditions 24)
  QUICK_EXTRA=()
  FIRST_DATA=()
fi
BASE="${BASE:-weights}"
TASKS="${TASKS:-pose depth labels}"
RETOKENIZE="${RETOKENIZE:-labels}"  # the tasks (of TASKS) moved onto the new first stage
DATA="$RUNS/data"
W="$RUNS/out"
MAX_MINUTES="${MAX_MINUTES:-0}"
STARTED=$(date +%s)
CONFIGS=configs/aligned
source scripts/recipe_lib.sh

stage_data() {  # the layout mix (3D renders, layout-first renders, composites; seed 7) for depth and labels,
  # 10000 humans of seed 8, every other one in a pose over the whole joint ranges, for pose; the images of
  # both, interleaved, for super-resolution (images_mix.npz)
  cache layout "$N_LAYOUT" 7 layout64_seed7
  cache human_wide "$N_WIDE" 8 humanwide64_seed8
  [ -f "$DATA/images_mix.npz" ] || python - "$DATA" <<'PY'
import sys, numpy as np
d = sys.argv[1]
a, b = (np.load(f"{d}/{n}/shard_00000.npz")["image"] for n in ("layout64_seed7", "humanwide64_seed8"))
n = min(len(a), len(b))
mix = np.concatenate([np.stack([a[:n], b[:n]], 1).reshape(-1, *a.shape[1:]), a[n:], b[n:]])
np.savez(f"{d}/images_mix.tmp.npz", image=mix)
PY
  [ -f "$DATA/images_mix.npz" ] || mv "$DATA/images_mix.tmp.npz" "$DATA/images_mix.npz"
}

aligned() {  # task steps data: the task's aligned transformer from its prefix model in $BASE, 1 thread;
  # data: a cache folder of $DATA or an npz file in it
  local t=$1 n=$2 data=$DATA/$3
  [[ "$data" == *.npz ]] || data="$data/shard_00000.npz"
  [ -d "$BASE/$t" ] || { echo "no $BASE/$t to start from (scripts/train_preview.sh makes it)" >&2; exit 2; }
  rm -rf "${RUNS:?}/base/$t"; mkdir -p "$RUNS/base"; cp -r "$BASE/$t" "$RUNS/base/$t"  # $OUT may be $BASE
  train transformer "transformer_$t" "transformer_$t" - first_stage="$RUNS/base/$t" init_from="$RUNS/base/$t" \
    data.root="$data" steps="$(steps "$n")" lr=3e-4 warmup_steps=50 threads=1 \
    export_dir="$W/$t"
  python -m scripts.shrink_weights "$W/$t"
}

stage_pose() {  # 1500 x 8 on the wide humans (about 30 min at one thread)
  [[ " $TASKS " == *" pose "* ]] && aligned pose 1500 humanwide64_seed8
  return 0
}

stage_depth() {  # 1500 x 8 on the layout mix (about 35 min at one thread)
  [[ " $TASKS " == *" depth "* ]] && aligned depth 1500 layout64_seed7
  return 0
}

stage_labels() {  # 1500 x 8 on the layout mix (about 35 min at one thread)
  [[ " $TASKS " == *" labels "* ]] && aligned labels 1500 layout64_seed7
  return 0
}

stage_superres() {  # 1500 x 8 on the images of both sets, x8 (8x8 inputs enlarged 2x: one feature per token);
  # not shipped (docs/CHANGELOG.md, 2026-12-04: no clear gain over the prefix model)
  [[ " $TASKS " == *" superres "* ]] && aligned superres 1500 images_mix.npz
  return 0
}

stage_firststage() {  # the new image first stage (for RETOKENIZE): the whole image VQGAN of $BASE
  # fine-tuned on the mix by the decoder trainer, one schedule of 3000 steps (GAN from step 600) in two pieces:
  # decoder_mix_full.yaml stopped at step 2472 (stop_at: a checkpoint, exit status 0), then decoder_mix_aa.yaml
  # (targets rendered at 2x and area-downsampled) resumed from that checkpoint to the end; its export is
  # $W/vqgan_mix. The headers of configs/aligned/decoder_mix_*.yaml say what each piece did.
  local t need=0
  for t in $RETOKENIZE; do [[ " $TASKS " == *" $t "* ]] && need=1; done
  [ "$need" = 1 ] || return 0
  local first=(vqgan="$BASE/vqgan_image" steps="$(steps 3000)" loss.disc_start="$(steps 600)"
               loss.disc_warmup="$(steps 100)" "${FIRST_DATA[@]}")
  train decoder decoder_mix_full firststage_full - "${first[@]}" stop_at="$(steps 2472)" export_dir=null
  train decoder decoder_mix_aa firststage_aa firststage_full "${first[@]}" export_dir="$W/vqgan_mix"
}

retokenize() {  # task: the task's aligned model (stage <task>) fine-tuned on the new first stage's tokens
  local t=$1
  if [ ! -d "$RUNS/old_tokens/$t" ]; then  # the start, kept: $W/$t becomes the re-tokenized model
    mkdir -p "$RUNS/old_tokens"; rm -rf "$RUNS/old_tokens/$t.tmp"
    cp -r "$W/$t" "$RUNS/old_tokens/$t.tmp"; mv "$RUNS/old_tokens/$t.tmp" "$RUNS/old_tokens/$t"
  fi
  train transformer "transformer_$t" "retokenized_$t" - first_stage="$W/vqgan_mix" \
    init_from="$RUNS/old_tokens/$t" init_from_other_tokens=true data.root="$DATA/layout64_seed7/shard_00000.npz" \
    steps="$(steps 1500)" lr=2e-4 warmup_steps=30 threads=1 export_dir="$W/$t"
  python -m scripts.shrink_weights "$W/$t"
}

stage_retokenize() {  # the tasks of RETOKENIZE, 1500 x 8 each on the layout mix (about 20 min each at one thread)
  local t
  for t in $RETOKENIZE; do
    [[ " $TASKS " == *" $t "* ]] && retokenize "$t"
  done
  return 0
}

stage_evaluate() {  # each new model beside the one it started from, on held-out renders and drawn conditions
  local t
  mkdir -p "$RUNS/eval"
  for t in $TASKS; do
    python -m taming_lite.evaluate --weights "$W" --evaluators "$BASE/evaluators" --only "$t" "${EVAL[@]}" \
      --json "$RUNS/eval/${t}_aligned.json" > "$RUNS/eval/${t}_aligned.md"
    python -m taming_lite.evaluate --weights "$RUNS/base" --evaluators "$BASE/evaluators" --only "$t" "${EVAL[@]}" \
      --json "$RUNS/eval/${t}_prefix.json" > "$RUNS/eval/${t}_prefix.md"
  done
}

stage_publish() {  # the new folders into $OUT
  local t
  mkdir -p "$OUT"
  for t in $TASKS; do
    rm -rf "${OUT:?}/$t"; cp -r "$W/$t" "$OUT/$t"
  done
  echo "== wrote $OUT/{${TASKS// /,}}"
}

STAGES=(data pose depth labels superres firststage retokenize evaluate publish)
run_stages
echo "done: the aligned models are in $OUT ($(( ($(date +%s) - STARTED) / 60 )) min)"
