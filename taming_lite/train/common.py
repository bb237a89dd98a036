"""Loop pieces shared by both trainers.

- `Dist`: one process, or DDP under torchrun (NCCL on CUDA, gloo on CPU).
- `batch_indices`: the data order as a pure function of (seed, step): a fresh permutation per epoch,
  split across ranks. Nothing about the order lives in a stateful loader, so a resumed run sees the
  same batches as an uninterrupted one.
- `seed_step`: reseeds torch's global RNG (dropout, ...) from (seed, step, rank) at every step, and
  gives a generator for the step's own randomness: again nothing to save for a bit-exact resume.
- `Checkpointer`: `<out_dir>/checkpoints/step_000123/` = model.safetensors + config.json (the
  project's format) + `training_state.pt` (optimizer states, step, ...; plain tensors and numbers,
  read back with `weights_only=True`).
- `MetricsLog` (CSV), `Progress` (tqdm with loss, throughput and ETA), `save_grid` (PNG),
  `StopRequest` (Ctrl-C, SIGTERM or the end of the `max_minutes` time budget: finish the step, save a
  checkpoint, exit).
- `stop_at` (a config field): a planned end of this piece of the run at that step (`checkpoint_or_stop` saves
  a checkpoint there, `run_training` returns its path: exit status 0, unlike the time budget's 75), so a
  schedule of `steps` can be trained in pieces with other settings (a resume at that step ends at once).
"""

from __future__ import annotations

import csv
import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from ..checkpoints import WEIGHTS_NAME, load_safetensors, load_state_strict, save_pretrained
from ..device import pick_device

# --------------------------------------------------------------------------- distributed


class Dist:
    """Process-group facts. Under torchrun (WORLD_SIZE > 1) it initialises the default group."""

    def __init__(self, device_name: str = "auto"):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = pick_device(device_name)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        self.initialized_here = False
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
            self.initialized_here = True

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: nn.Module) -> nn.Module:
        if not self.enabled:
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(module, device_ids=ids)

    def barrier(self):
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def broadcast(self, t: torch.Tensor, src: int = 0) -> torch.Tensor:
        if self.enabled:
            dist.broadcast(t, src)
        return t

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any (so all ranks stop at the same step)."""
        if not self.enabled:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def close(self):
        if self.initialized_here and dist.is_initialized():
            dist.destroy_process_group()


def run_training(cfg, body, resume, on_step):
    """Shared entry of both trainers: CPU threads, the process group, and its clean-up."""
    if cfg.max_minutes < 0:
        raise ValueError(f"max_minutes must be >= 0 (0: no time budget), got {cfg.max_minutes}")
    if cfg.stop_at < 0 or (cfg.stop_at and cfg.stop_at >= cfg.steps):
        raise ValueError(f"stop_at must be 0 (off) or a step before steps={cfg.steps}, got {cfg.stop_at}")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    d = Dist(cfg.device)
    try:
        return body(cfg, d, resume, on_step)
    except _StopAt as e:  # a planned end of this piece: the checkpoint is the result, not an interruption
        if d.main:
            print(f"[taming_lite.train] stopped at step {e.step} (stop_at); checkpoint at {e.checkpoint} "
                  f"(go on with --resume and stop_at=0 or a later step)")
        return e.checkpoint
    finally:
        d.close()


def checkpoint_or_stop(step: int, cfg, d: Dist, ckpt: "Checkpointer", model: nn.Module, state: Callable[[], dict],
                       extra: dict, stop: "StopRequest", requested: bool, progress: "Progress", out: Path) -> None:
    """After a training step: on Ctrl-C, the end of the time budget (`stop`) or an on_step request
    (`requested`), save and raise TrainingInterrupted; at `stop_at`, save and end the run (`_StopAt`, which
    `run_training` turns into a return); else save every `ckpt_every` steps (rank 0 writes, all ranks wait)."""
    if cfg.stop_at and step == cfg.stop_at:
        if d.main:
            ckpt.save(step, model, state(), extra)
        d.barrier()
        progress.close()
        raise _StopAt(step, out / "checkpoints" / f"step_{step:07d}")
    time_up = stop.time_up  # read once: the reason given is the one that stopped the run
    if d.any(stop.signalled or time_up or requested) and step < cfg.steps:
        time_up = d.any(time_up)  # every rank names the same reason
        if d.main:
            ckpt.save(step, model, state(), extra)
        d.barrier()
        progress.close()
        raise TrainingInterrupted(out / "checkpoints" / f"step_{step:07d}",
                                  time_budget=cfg.max_minutes if time_up else None)
    if cfg.ckpt_every and step % cfg.ckpt_every == 0 and step < cfg.steps:
        if d.main:
            ckpt.save(step, model, state(), extra)
        d.barrier()


def check_ranks_agree(module: nn.Module, d: Dist) -> float:
    """Max abs difference between this rank's parameters and rank 0's (0.0 without DDP)."""
    if not d.enabled:
        return 0.0
    flat = torch.cat([p.detach().reshape(-1).float() for p in module.parameters()])
    ref = flat.clone()
    d.broadcast(ref)
    diff = (flat - ref).abs().max()
    d.all_reduce_sum(diff)  # any rank's difference, seen by all
    return float(diff)


# --------------------------------------------------------------------------- determinism


def _mix(*ints: int) -> int:
    """A 63-bit seed from a few integers (splitmix-style; stable across runs and machines)."""
    x = 0x9E3779B97F4A7C15
    for i in ints:
        x = (x ^ (int(i) & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 31
    return x & 0x7FFFFFFFFFFFFFFF


def seed_step(seed: int, step: int, rank: int = 0, device=None) -> torch.Generator:
    """Reseed the global RNG for this step and rank; return a generator for the step's sampling."""
    torch.manual_seed(_mix(seed, step, rank, 1))
    g = torch.Generator(device=device if device is not None and torch.device(device).type == "cuda" else "cpu")
    g.manual_seed(_mix(seed, step, rank, 2))
    return g


def batch_indices(n: int, batch_size: int, step: int, seed: int, rank: int = 0, world: int = 1) -> list[int]:
    """Indices of the batch this rank trains on at `step`: epoch-wise permutations, drop_last."""
    per_epoch = n // (batch_size * world)
    if per_epoch == 0:
        raise ValueError(f"data set of {n} samples is smaller than one global batch ({batch_size} x {world} ranks); "
                         f"lower batch_size or raise data.num_samples")
    epoch, pos = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(_mix(seed, epoch, 3))
    perm = torch.randperm(n, generator=g)
    start = (pos * world + rank) * batch_size
    return perm[start : start + batch_size].tolist()


def collate(dataset, indices: list[int]) -> dict:
    items = [dataset[i] for i in indices]
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]
            if isinstance(items[0][k], (torch.Tensor, np.ndarray))}


class BatchStream:
    """Batches for steps [start, steps) in the order of `batch_indices`, with optional worker processes."""

    def __init__(self, dataset, batch_size: int, seed: int, d: Dist, start: int, steps: int, num_workers: int = 0):
        self.dataset, self.batch_size, self.seed, self.d = dataset, batch_size, seed, d
        self.start, self.steps, self.num_workers = start, steps, num_workers

    def __iter__(self):
        n = len(self.dataset)
        plan = [batch_indices(n, self.batch_size, s, self.seed, self.d.rank, self.d.world)
                for s in range(self.start, self.steps)]
        if self.num_workers <= 0:
            for idx in plan:
                yield collate(self.dataset, idx)
            return
        loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=plan, num_workers=self.num_workers,
                                             collate_fn=_default_collate, persistent_workers=False)
        yield from loader


def _default_collate(items):
    return {k: torch.stack([torch.as_tensor(it[k]) for it in items]) for k in items[0]
            if isinstance(items[0][k], (torch.Tensor, np.ndarray))}


# --------------------------------------------------------------------------- logging


class MetricsLog:
    """metrics.csv: one row per logged step. On resume, rows after the checkpoint's step are dropped,
    so the file reads as one uninterrupted run."""

    def __init__(self, path: Path, enabled: bool = True, resume_step: int | None = None):
        self.path, self.enabled = Path(path), enabled
        self.fields: list[str] | None = None
        if not enabled:
            return
        if resume_step is None or not self.path.is_file():
            self.path.unlink(missing_ok=True)
            return
        with open(self.path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        self.path.unlink()
        for r in rows:
            self.write(r)

    def write(self, row: dict):
        if not self.enabled:
            return
        if self.fields is None:
            self.fields = list(row)
            with open(self.path, "w", newline="") as f:
                csv.DictWriter(f, self.fields).writeheader()
        new = [k for k in row if k not in self.fields]
        if new:  # a column appears later (e.g. GAN losses after disc_start): rewrite with the wider header
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
            self.fields += new
            with open(self.path, "w", newline="") as f:
                w = csv.DictWriter(f, self.fields)
                w.writeheader()
                w.writerows(rows)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow({k: _fmt(v) for k, v in row.items()})


def _fmt(v):
    return repr(float(v)) if isinstance(v, float) else v


def read_metrics(path: str | Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class Progress:
    """A tqdm bar on rank 0 showing loss, throughput (`unit`/s) and ETA; a no-op elsewhere."""

    def __init__(self, total: int, start: int, enabled: bool, unit: str, desc: str):
        self.bar = None
        self.unit = unit
        self.t0, self.n0, self.items = time.perf_counter(), start, 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=start, desc=desc, unit="step", dynamic_ncols=True, smoothing=0.1)

    def update(self, items: int, **postfix):
        self.items += items
        if self.bar is None:
            return
        rate = self.items / max(time.perf_counter() - self.t0, 1e-9)
        self.bar.set_postfix({**{k: f"{v:.4g}" for k, v in postfix.items()}, f"{self.unit}/s": f"{rate:.1f}"},
                             refresh=False)
        self.bar.update(1)

    def rate(self) -> float:
        return self.items / max(time.perf_counter() - self.t0, 1e-9)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def save_grid(rows: list[torch.Tensor], path: Path, pad: int = 2) -> Path:
    """rows: tensors (N, 3 or 1, H, W) in [-1, 1], all the same N -> one PNG, a row per tensor."""
    from PIL import Image

    rows = [r.detach().float().cpu().clamp(-1, 1) for r in rows]
    rows = [r.repeat(1, 3, 1, 1) if r.shape[1] == 1 else r for r in rows]
    n, H, W = rows[0].shape[0], max(r.shape[2] for r in rows), max(r.shape[3] for r in rows)
    canvas = np.full((len(rows) * (H + pad) + pad, n * (W + pad) + pad, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        img = ((r + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
        for j in range(min(n, r.shape[0])):
            h, w = img[j].shape[:2]
            y, x = pad + i * (H + pad), pad + j * (W + pad)
            canvas[y : y + h, x : x + w] = img[j]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas).save(path)
    return path


# --------------------------------------------------------------------------- schedule, EMA


def warmup_cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up from 0 over `warmup` steps, then cosine down to `min_ratio`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class EMA:
    """Exponential moving average of a module's floating-point parameters. The decay ramps up as
    min(decay, (1 + n) / (10 + n)) over the first updates, so a short run does not export its init."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay, self.updates = decay, 0
        self.shadow = {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}

    @torch.no_grad()
    def update(self, module: nn.Module):
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for k, v in module.state_dict().items():
            if k in self.shadow:
                self.shadow[k].lerp_(v.detach(), 1 - decay)

    def copy_to(self, module: nn.Module):
        module.load_state_dict({**module.state_dict(), **self.shadow})

    def state_dict(self):
        return {**self.shadow, "__updates__": torch.tensor(self.updates)}

    def load_state_dict(self, state):
        self.updates = int(state["__updates__"])
        for k in self.shadow:
            self.shadow[k].copy_(state[k])


# --------------------------------------------------------------------------- checkpoints

STATE_NAME = "training_state.pt"


class Checkpointer:
    def __init__(self, out_dir: Path, keep: int = 2):
        self.dir = Path(out_dir) / "checkpoints"
        self.keep = keep

    def save(self, step: int, model: nn.Module, state: dict, extra: dict | None = None, final: bool = False) -> Path:
        path = self.dir / ("final" if final else f"step_{step:07d}")
        tmp = path.with_name(path.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        save_pretrained(model, tmp, extra=extra)
        torch.save({**state, "step": step}, tmp / STATE_NAME)
        shutil.rmtree(path, ignore_errors=True)
        tmp.rename(path)  # a checkpoint directory is complete or absent, never half-written
        (self.dir / "latest.txt").write_text(path.name + "\n")
        if not final:
            steps = sorted(p for p in self.dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))
            for old in steps[: max(0, len(steps) - self.keep)]:
                shutil.rmtree(old, ignore_errors=True)
        return path

    def latest(self) -> Path | None:
        pointer = self.dir / "latest.txt"
        if not pointer.is_file():
            return None
        path = self.dir / pointer.read_text().strip()
        return path if (path / STATE_NAME).is_file() else None


def resolve_resume(resume: str | bool | None, out_dir: Path) -> Path | None:
    """--resume (latest checkpoint in out_dir) or --resume PATH (a checkpoint dir or a run dir)."""
    if not resume:
        return None
    if resume is True or resume == "auto":
        path = Checkpointer(out_dir).latest()
        if path is None:
            raise FileNotFoundError(f"--resume: no checkpoint in {Path(out_dir) / 'checkpoints'}")
        return path
    path = Path(resume)
    if (path / STATE_NAME).is_file():
        return path
    latest = Checkpointer(path).latest()
    if latest is None:
        raise FileNotFoundError(f"--resume {path}: neither a checkpoint directory (with {STATE_NAME}) nor a run "
                                f"directory with checkpoints/latest.txt")
    return latest


def load_training_state(path: Path) -> dict:
    return torch.load(Path(path) / STATE_NAME, map_location="cpu", weights_only=True)


def restore(model: nn.Module, resume: str | bool | None, out_dir: Path, main: bool = True,
            stop_at: int = 0) -> dict | None:
    """The resume step every trainer shares: find the checkpoint (`resolve_resume`), load its weights into
    `model` (strict), and return its training state (optimizers, discriminator, "step", ...); None when
    `resume` asks for a fresh start. The trainer then restores its own optimizer states from it. A checkpoint
    at step `stop_at` ends the run at once (it is that piece's result); one past it is refused."""
    path = resolve_resume(resume, out_dir)
    if path is None:
        return None
    state = load_training_state(path)
    if stop_at and int(state["step"]) >= stop_at:
        if int(state["step"]) > stop_at:
            raise ValueError(f"--resume {path}: its step {int(state['step'])} is past stop_at={stop_at}")
        raise _StopAt(stop_at, path)
    load_state_strict(model, load_safetensors(path / WEIGHTS_NAME), str(path))
    if main:
        print(f"[taming_lite.train] resuming from {path} at step {int(state['step'])}")
    return state


class StopRequest:
    """Ctrl-C (SIGINT) or SIGTERM sets a flag, and so does the end of a time budget of `max_minutes`
    counted from `since` (a `time.monotonic()` reading; 0 minutes: no budget); the loop finishes its
    step, saves, and exits. A second Ctrl-C interrupts at once."""

    def __init__(self, max_minutes: float = 0.0, since: float | None = None):
        self.signalled = False
        start = time.monotonic() if since is None else since
        self.deadline = start + 60.0 * max_minutes if max_minutes > 0 else None
        self._old = {}

    @property
    def time_up(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signalled:
            raise KeyboardInterrupt
        self.signalled = True
        print("\n[taming_lite.train] stopping after this step; saving a checkpoint (Ctrl-C again to abort)", flush=True)

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        return False


class _StopAt(Exception):
    """The run reached `stop_at` (checkpoint saved); `run_training` returns the checkpoint's path."""

    def __init__(self, step: int, checkpoint: Path):
        super().__init__(f"stopped at step {step}")
        self.step, self.checkpoint = step, checkpoint


class TrainingInterrupted(Exception):
    """Raised after a stop request once the checkpoint is written; carries its path, and the time budget
    in minutes when that is what ended the run (else None)."""

    def __init__(self, checkpoint: Path, time_budget: float | None = None):
        why = f"time budget of {time_budget:g} min reached" if time_budget is not None else "training stopped"
        super().__init__(f"{why}; checkpoint saved at {checkpoint} (continue with --resume)")
        self.checkpoint = checkpoint
        self.time_budget = time_budget
