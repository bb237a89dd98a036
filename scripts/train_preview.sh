#!/usr/bin/env bash
# Train the small "preview" defaults shipped in weights/ (64x64 images, 16x16 tokens) on a CPU: the five
# VQGANs, then the five transformers, then the pixel-level baseline (about an hour); steps 2c to 2l then
# continue the weaker models on more data (about fourteen more CPU hours; POSE_LONGER=0 MORE_DATA=0 MORE_DATA2=0
# MORE_DECODER=0 GROW_DECODER=0 BETTER_LOWRES=0 BETTER_LABELS=0 LABELS_LONGER=0 SUPERRES_X8=0 SUPERRES_X8_LONGER=0
# skip them).
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
spread_decoder() {  # the image VQGAN's (fine-tuned) decoder into every transformer, then fp16 storage
  local all="weights/completion weights/depth weights/labels weights/superres weights/pose"
  # shellcheck disable=SC2086
  python scripts/finetune_decoder.py --vqgan weights/vqgan_image --copy-only --into $all
  # shellcheck disable=SC2086
  python scripts/shrink_weights.py $all
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
# 2d. more data: 6000 new landscapes (base seed 4); with the 6000 humans above and the first 3000 images,
#     15000 images for a second, longer fine-tune of the image decoder (tokens unchanged)
if [ "${MORE_DATA:-1}" = "1" ]; then
  python -m taming_lite.data cache --source landscape --n 6000 --size 64 --seed 4 --format npz --shard-size 6000 \
    --out runs/data/landscape64_seed4 --quiet
  python - <<'PY'
import numpy as np  # the first 3000 images, then new landscapes and humans interleaved
a = np.load("runs/data/landscape64_seed4/shard_00000.npz")["image"]
b = np.load("runs/data/human64_seed3/shard_00000.npz")["image"]
img = np.empty((len(a) + len(b),) + a.shape[1:], np.uint8)
img[0::2], img[1::2] = a, b
np.savez("runs/data/images64_more.npz", image=np.concatenate([np.load("runs/data/images64.npz")["image"], img]))
PY
  # the decoder: 3500 more steps, batch 16, cosine learning rate (one CPU thread: about an hour);
  # held-out landscape PSNR 23.78 -> 27.03 dB
  OMP_NUM_THREADS=1 python scripts/finetune_decoder.py --vqgan weights/vqgan_image --data runs/data/images64_more.npz \
    --steps 3500 --batch 16 --lr 2e-4 --schedule cosine
  # then 1500 steps with L1 + (1 - SSIM), two threads (about 17 min): 27.16 dB, SSIM 0.76 -> 0.78
  python scripts/finetune_decoder.py --vqgan weights/vqgan_image --data runs/data/images64_more.npz \
    --steps 1500 --batch 16 --lr 1e-4 --schedule cosine --ssim-weight 1.0 --ssim-window 7
  # labels, depth, super-resolution transformers: continued from their 600-step runs on the new data
  # (one thread each: about 45-60 min). The shipped labels run was stopped at step 1015 of a steps=4800
  # schedule and resumed with steps=2400, so its learning rate up to step 1015 differs from this line.
  for t in labels:landscape64_seed4/shard_00000.npz:2400 depth:landscape64_seed4/shard_00000.npz:2000 \
           superres:images64_more.npz:2400; do
    IFS=: read -r name data steps <<<"$t"
    OMP_NUM_THREADS=1 python -m taming_lite.train transformer --config "configs/preview/transformer_$name.yaml" \
      --resume "runs/preview/transformer_$name" out_dir="runs/preview/transformer_${name}_long" \
      export_dir="weights/$name" data.root="runs/data/$data" steps="$steps" progress=false
  done
  spread_decoder
fi
# 2e. the decoder once more, weighting SSIM higher (L1 + 2 x (1 - SSIM), 3000 steps, one thread: about
#     100 min), and the labels transformer fine-tuned from the shipped one (init_from: its GPT, a fresh
#     optimizer) on 6000 more landscapes (base seed 5; one thread, about 90 min; the two ran side by side)
if [ "${MORE_DATA2:-1}" = "1" ]; then
  python -m taming_lite.data cache --source landscape --n 6000 --size 64 --seed 5 --format npz --shard-size 6000 \
    --out runs/data/landscape64_seed5 --quiet
  OMP_NUM_THREADS=1 python scripts/finetune_decoder.py --vqgan weights/vqgan_image --data runs/data/images64_more.npz \
    --steps 3000 --batch 16 --lr 1e-4 --schedule cosine --ssim-weight 2.0 --ssim-window 7
  OMP_NUM_THREADS=1 python -m taming_lite.train transformer --config configs/preview/transformer_labels.yaml \
    first_stage=weights/labels cond_stage=weights/labels init_from=weights/labels \
    out_dir=runs/preview/transformer_labels_ft export_dir=weights/labels \
    data.root=runs/data/landscape64_seed5/shard_00000.npz steps=2400 lr=3e-4 warmup_steps=50 threads=1 progress=false
  spread_decoder
fi
# 2f. the decoder a last time, SSIM weighted higher still (L1 + 4 x (1 - SSIM), 2400 steps, one thread:
#     about 85 min): 27.36 -> 27.43 dB, SSIM 0.789 -> 0.794 (a run with 10 x (1 - SSIM) beside it: 27.26 dB, 0.794);
#     SSIM up to here with the 7x7 window of then (--ssim-window 7): the standard 11x11 window reads 0.797 after 2f
if [ "${MORE_DECODER:-1}" = "1" ]; then
  OMP_NUM_THREADS=1 python scripts/finetune_decoder.py --vqgan weights/vqgan_image --data runs/data/images64_more.npz \
    --steps 2400 --batch 16 --lr 1e-4 --schedule cosine --ssim-weight 4.0 --seed 5 --ssim-window 7
  spread_decoder
fi
# 2g. the decoder grown by one res block at each of its two highest resolutions (added as identities:
#     --grow-decoder 2 2 1, +93k parameters), then L1 + 4 x (1 - SSIM) with the standard 11x11 window, 2600
#     steps (one thread: about 107 min): 27.43 -> 27.52 dB, SSIM 0.797 -> 0.8001 (11x11 window; the same run without
#     --grow-decoder, beside it on the same batches: 27.50 dB, 0.7997)
if [ "${GROW_DECODER:-1}" = "1" ]; then
  OMP_NUM_THREADS=1 python scripts/finetune_decoder.py --vqgan weights/vqgan_image --data runs/data/images64_more.npz \
    --steps 2600 --batch 16 --lr 1e-4 --schedule cosine --ssim-weight 4.0 --seed 6 --grow-decoder 2 2 1
  spread_decoder
fi
# 2h. super-resolution saw its input through a low-res VQGAN of 400 steps that kept only 23.5 dB of it (the
#     samples' consistency, 24.3 dB, sat at that): a new one with 512 codes, 6000 steps of batch 32 on the
#     15000 images (one thread, about 36 min): 34.3 dB; then the super-res transformer started from the
#     shipped one's GPT (init_from_other_tokens: the new cond tokens' embeddings are relearned), 2000 steps
#     (two threads, about 50 min): consistency 24.3 -> 28.1 dB, PSNR -7.4 -> -4.9 dB vs bicubic (8 x 4)
if [ "${BETTER_LOWRES:-1}" = "1" ]; then
  OMP_NUM_THREADS=1 python -m taming_lite.train vqgan --config configs/preview/vqgan_lowres.yaml steps=6000 \
    batch_size=32 threads=1 progress=false loss.disc_start=100000000 model.n_embed=512 \
    data.root=runs/data/images64_more.npz out_dir=runs/preview/vqgan_lowres_long \
    export_dir=runs/preview/vqgan_lowres_long/export ckpt_every=1000 log_every=100
  python -m taming_lite.train transformer --config configs/preview/transformer_superres.yaml \
    cond_stage=runs/preview/vqgan_lowres_long/export init_from=weights/superres init_from_other_tokens=true \
    data.root=runs/data/images64_more.npz steps=2000 lr=3e-4 warmup_steps=50 threads=2 progress=false \
    out_dir=runs/preview/transformer_superres_lr export_dir=weights/superres ckpt_every=400 log_every=50
  spread_decoder
fi
# 2i. the labels transformer saw the painted map through a label VQGAN of 400 steps that kept mIoU 0.39 of
#     it: a new one, the same config from scratch on the 6000 landscapes of base seed 4 (2260 steps of batch 8,
#     constant lr, one thread: about 60 min; mIoU of its reconstruction 0.73, pixel accuracy 0.91; the shipped
#     one was a steps=6000 run stopped at step 2260, the same run as the lr is constant), then the
#     labels transformer started again from the shipped one's GPT (init_from_other_tokens), 2400 steps (two
#     threads, about 45 min): segmenter mIoU of samples vs the input map 0.18 -> 0.22 (8 conditions x 4 samples)
if [ "${BETTER_LABELS:-1}" = "1" ]; then
  OMP_NUM_THREADS=1 python -m taming_lite.train vqgan --config configs/preview/vqgan_labels.yaml steps=2260 \
    threads=1 progress=false loss.disc_start=100000000 data.root=runs/data/landscape64_seed4/shard_00000.npz \
    out_dir=runs/preview/vqgan_labels_6k export_dir=runs/preview/vqgan_labels_6k/export ckpt_every=250 log_every=50
  python -m taming_lite.train transformer --config configs/preview/transformer_labels.yaml \
    first_stage=weights/labels cond_stage=runs/preview/vqgan_labels_6k/export init_from=weights/labels \
    init_from_other_tokens=true data.root=runs/data/landscape64_seed5/shard_00000.npz steps=2400 lr=3e-4 \
    warmup_steps=50 threads=2 progress=false out_dir=runs/preview/transformer_labels_newcond \
    export_dir=weights/labels ckpt_every=400 log_every=50
  spread_decoder
fi
# 2j. the labels transformer trained on from the shipped one (init_from, fresh optimizer) on 6000 new landscapes
#     (base seed 6), 3600 steps (two threads, about 80 min; the shipped run was stopped at step 2937 and
#     continued with --resume, the same run): segmenter mIoU of samples vs the input map 0.31 -> 0.42 on
#     24 conditions x 2 samples, 0.22 -> 0.25 on 8 x 4, 0.22 -> 0.24 on 2 x 8 (old and new model side by side)
if [ "${LABELS_LONGER:-1}" = "1" ]; then
  python -m taming_lite.data cache --source landscape --n 6000 --size 64 --seed 6 --format npz --shard-size 6000 \
    --out runs/data/landscape64_seed6 --quiet
  python -m taming_lite.train transformer --config configs/preview/transformer_labels.yaml \
    first_stage=weights/labels cond_stage=weights/labels init_from=weights/labels \
    data.root=runs/data/landscape64_seed6/shard_00000.npz steps=3600 lr=3e-4 warmup_steps=50 threads=2 \
    progress=false out_dir=runs/preview/transformer_labels_seed6 export_dir=weights/labels ckpt_every=400 log_every=50
  spread_decoder
fi
# 2k. super-resolution x8 instead of x4: the shipped x4 model trained on with 8x8 inputs that it enlarges 2x
#     (nearest) before the same low-res VQGAN (cond_upsample=2), 2000 steps (two threads, about 45 min):
#     on 8 conditions x 4 samples PSNR -3.07 dB vs bicubic (x4: -4.90), consistency 29.5 dB (x4: 28.0)
superres_x8() {  # train the shipped super-resolution model on as x8: steps, lr, run folder, checkpoint interval
  python -m taming_lite.train transformer --config configs/preview/transformer_superres.yaml \
    first_stage=weights/superres cond_stage=weights/superres init_from=weights/superres cond_upsample=2 \
    data.cond_key=lowres8 data.root=runs/data/images64_more.npz steps="$1" lr="$2" warmup_steps=50 threads=2 \
    progress=false out_dir="runs/preview/$3" export_dir=weights/superres ckpt_every="$4" log_every=50
  spread_decoder
}
if [ "${SUPERRES_X8:-1}" = "1" ]; then
  superres_x8 2000 3e-4 transformer_superres_x8 400
fi
# 2l. the x8 model trained on: 3000 more steps from it, lr 2e-4 (two threads, about 80 min): raw samples' consistency
#     29.6 -> 30.5 dB and PSNR -3.05 -> -2.80 dB vs bicubic on 8 conditions x 4 samples (both models, same conditions and seeds)
if [ "${SUPERRES_X8_LONGER:-1}" = "1" ]; then
  superres_x8 3000 2e-4 transformer_superres_x8b 500
fi
# 3. the pixel-level baseline: the completion model's GPT over 32x32 palette pixels, 1/4 of its steps (same tokens)
run transformer pixel_baseline "$PIXEL_STEPS"
echo "done: weights/ holds the preview VQGANs, transformers and the pixel baseline"
