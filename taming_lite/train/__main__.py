"""Command line: `python -m taming_lite.train {vqgan,transformer,decoder} --config FILE [--resume [PATH]] [key=value ...]`."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_TIME_BUDGET = 75  # the time budget (max_minutes=) ended the run: not a failure, continue with --resume

EPILOG = """\
overrides: any config field, dotted for sections, value parsed as YAML, e.g.
  steps=200 batch_size=4 data.size=64 data.num_samples=100 model.n_embed=256 loss.disc_start=500

examples:
  python -m taming_lite.train vqgan --config configs/vqgan_image.yaml
  python -m taming_lite.train transformer --config configs/transformer_depth.yaml steps=5000
  python -m taming_lite.train vqgan --config configs/vqgan_image.yaml --resume     # latest checkpoint in out_dir
  python -m taming_lite.train vqgan --config configs/vqgan_image.yaml max_minutes=120
      # stops after two hours with a checkpoint (exit status 75; Ctrl-C: 130); go on with --resume max_minutes=120
  python -m taming_lite.train vqgan --config configs/vqgan_image.yaml stop_at=3000
      # a planned end at step 3000 of the schedule of `steps`: a checkpoint, exit status 0; go on with --resume
  python -m taming_lite.train decoder --config configs/preview/decoder128.yaml max_minutes=50
      # a 128-px decoder for the shipped 64-px image VQGAN's tokens (encoder and codebook frozen)
  torchrun --nproc_per_node=2 -m taming_lite.train vqgan --config configs/tiny_vqgan.yaml
  python -m taming_lite.train vqgan --config configs/vqgan_image.yaml --print-config
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m taming_lite.train", description="Train a VQGAN, a transformer, or a new decoder for a VQGAN's tokens.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("trainer", choices=["vqgan", "transformer", "decoder"])
    parser.add_argument("--config", "-c", help="YAML config (configs/*.yaml); defaults if omitted")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="PATH",
                        help="continue from the latest checkpoint in out_dir, or from PATH (a checkpoint or run dir)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    parser.add_argument("overrides", nargs="*", metavar="key=value")
    args = parser.parse_intermixed_args(argv)
    if args.resume not in (None, "auto") and "=" in args.resume and not os.path.exists(args.resume):
        # `--resume steps=500 ...`: argparse took the first override for --resume's optional PATH
        args.overrides.insert(0, args.resume)
        args.resume = "auto"

    import yaml

    from .config import config_to_dict, load_config

    try:
        cfg = load_config(args.trainer, args.config, args.overrides)
    except (ValueError, FileNotFoundError) as e:
        parser.error(str(e))
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False), end="")
        return 0

    from . import TRAINERS, TrainingInterrupted

    try:
        TRAINERS[args.trainer](cfg, resume=args.resume)
    except TrainingInterrupted as e:
        print(f"[taming_lite.train] {e}", file=sys.stderr)
        return EXIT_TIME_BUDGET if e.time_budget is not None else 130
    except (FileNotFoundError, KeyError, ValueError) as e:  # config / data / checkpoint problems: no traceback
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"[taming_lite.train] error: {msg}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
