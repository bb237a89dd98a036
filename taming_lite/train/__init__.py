"""Training: the VQGAN (first/cond stage) and transformer (second stage) loops.

    python -m taming_lite.train vqgan --config configs/vqgan_image.yaml steps=2000
    python -m taming_lite.train transformer --config configs/transformer_depth.yaml --resume
    torchrun --nproc_per_node=2 -m taming_lite.train vqgan --config ...        # DDP (gloo on CPU)

Files: config.py (YAML -> dataclasses, overrides), data.py (data sets by key), losses.py
(discriminator, hinge loss, adaptive weight, optional LPIPS, BCE), common.py (DDP, deterministic data
order, checkpoints, CSV/PNG logging, progress, Ctrl-C), vqgan_trainer.py, transformer_trainer.py.
See docs/TRAINING.md.
"""

from .common import TrainingInterrupted, read_metrics
from .config import DataConfig, TransformerTrainConfig, VQGANTrainConfig, VQLossConfig, load_config
from .transformer_trainer import train_transformer
from .vqgan_trainer import train_vqgan

TRAINERS = {"vqgan": train_vqgan, "transformer": train_transformer}

__all__ = ["DataConfig", "TransformerTrainConfig", "VQGANTrainConfig", "VQLossConfig", "load_config",
           "train_vqgan", "train_transformer", "TrainingInterrupted", "read_metrics", "TRAINERS"]
