#!/usr/bin/env bash
# Train the three evaluator networks shipped in weights/evaluators/ (segmenter, depth regressor, keypoint
# detector; 64x64, the resolution of the preview models) on a CPU, and score each on held-out real renders.
#   scripts/train_evaluators.sh                            # all three (about 20 CPU-minutes, 1 thread each)
#   STEPS=500 LABEL_STEPS=500 scripts/train_evaluators.sh  # quicker, worse
# Training data: 6000 renders of base seed 2 per domain (landscapes: + 6000 of the layout mix) (the generators train on seed 0, evaluation uses
# seed 1), cached once as npz under runs/evaluators/ (about 1.5 min).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${STEPS:=2000}" "${LABEL_STEPS:=3000}"
D=runs/evaluators
# the segmenter and the depth regressor also read layout-first renders (taming_lite.data.layout), so that they can
# score samples of conditions a person draws: 6000 3D renders + 6000 of the layout mix, one folder of two shards
[ -f $D/mix64_seed2/shard_00000.npz ] || python -m taming_lite.data cache --source landscape --n 6000 --size 64 --seed 2 --format npz --shard-size 6000 --out $D/mix64_seed2 --quiet
[ -f $D/mix64_seed2/shard_00001.npz ] || python -m taming_lite.data cache --source layout --n 6000 --start 6000 --size 64 --seed 2 --format npz --shard-size 6000 --out $D/mix64_seed2 --quiet
[ -f $D/human64_seed2/meta.json ] || python -m taming_lite.data cache --source human --n 6000 --size 64 --seed 2 --format npz --shard-size 2000 --out $D/human64_seed2 --quiet
# the segmenter: a wider bottleneck and class-balanced cross-entropy (rare classes count for mIoU)
python -m taming_lite.evaluators train --task labels --data $D/mix64_seed2 --n-train 12000 --steps "$LABEL_STEPS" --ch-mult 1 2 4 8 --class-balance 0.5 --out weights/evaluators/labels
python -m taming_lite.evaluators train --task depth --data $D/mix64_seed2 --n-train 12000 --steps "$STEPS" --out weights/evaluators/depth
python -m taming_lite.evaluators train --task pose --data $D/human64_seed2 --steps "$STEPS" --out weights/evaluators/pose
