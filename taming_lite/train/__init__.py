"""Training: the VQGAN (first/cond stage) and transformer (second stage) loops.

    python -m taming_lite.train vqgan --config configs/vqgan_image.yaml steps=2000
    python -m taming_lite.train transformer --config configs/transformer_depth.yaml --resume
    python -m taming_lite.train decoder --config configs/preview/decoder128.yaml max_minutes=50   # decoder only
    torchrun --nproc_per_node=2 -m taming_lite.train vqgan --config ...        # DDP (gloo on CPU)

Files: config.py (YAML -> dataclasses, overrides), data.py (data sets by key), losses.py
(discriminator, hinge loss, adaptive weight, optional LPIPS, BCE), common.py (DDP, deterministic data
order, checkpoints, CSV/PNG logging, progress, Ctrl-C), vqgan_trainer.py, transformer_trainer.py,
decoder_trainer.py (a new, larger decoder for a trained VQGAN's frozen tokens).
See docs/TRAINING.md.
"""

from .common import TrainingInterrupted, read_metrics
from .config import (DataConfig, DecoderLossConfig, DecoderTrainConfig, TransformerTrainConfig, VQGANTrainConfig,
                     VQLossConfig, load_config)
from .decoder_trainer import train_decoder
from .transformer_trainer import train_transformer
from .vqgan_trainer import train_vqgan

TRAINERS = {"vqgan": train_vqgan, "transformer": train_transformer, "decoder": train_decoder}

__all__ = ["DataConfig", "TransformerTrainConfig", "VQGANTrainConfig", "VQLossConfig", "load_config",
           "DecoderTrainConfig", "DecoderLossConfig", "train_decoder", "train_vqgan", "train_transformer",
           "TrainingInterrupted", "read_metrics", "TRAINERS"]
