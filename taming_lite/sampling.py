"""Autoregressive sampling of token sequences and token grids.

- `filter_logits`: temperature, then top-k (ties kept, as the original), then top-p (nucleus).
- `iter_sample`: sequence sampling, KV-cached (one prefill, then one token per step) or uncached
  (the whole sequence re-run for every token, as the original `sample`). A generator that yields
  after every token, so callers can stream previews or stop early.
- `sample_sliding_window`: token grids larger than the model's window (e.g. 32x48 tokens from a
  16x16-token model), the conditioning grid cropped with the window.
- Classifier-free guidance (both samplers, `guidance` > 1 with `uncond`, the null branch's prefix or
  conditioning): the conditional and the unconditional sequences run as one batch of 2B through the
  same KV-cached forward, and each token is drawn from `logits_u + guidance * (logits_c - logits_u)`,
  then fed to both branches.

Sliding window, block scheme. The original moves a wh x ww window so that the token (i, j) sits
near its centre and recomputes the whole window (conditioning + up to wh*ww tokens) for every
single token. We place one window per *block* of `block` consecutive tokens of a row: the window's
rows are chosen as in the original (i_start = clamp(i - wh/2, 0, H - wh)), its columns so that
the block has `(ww - block) // 2` columns of left context (clamped at the borders). Inside a
block the window does not move, so one prefill fills a KV cache and the block's tokens are each
one cached step. Everything fed to a cache is known when fed and never changes afterwards, so a
later block with the same window placement (i0, j0) continues that placement's cache where it
stopped instead of prefilling again: one cache is kept per window column in use (at most
MAX_WINDOW_CACHES). Near the top and bottom borders, where the window's rows are clamped, every
row reuses the caches of the row above; `row_step` > 1 moves the window down only every few rows
(the token's row stays within row_step // 2 of the window's middle), so the middle rows reuse them
too. A grid that fits one window is sampled exactly as `iter_sample` with the cache, i.e. as the
per-token scheme; any grid gives exactly the tokens of one uncached forward per token with the
same window placements (`sample_sliding_window_per_token(..., block=, row_step=)`, tested).
Cost: at most H * ceil(W / block) prefills (fewer with reuse) instead of H * W full-window forwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F

from .gpt import GPT


def validate_sampling(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                      vocab_size: int | None = None) -> tuple[float, int | None, float | None]:
    """Check sampling parameters; return them normalised (top_k clamped to the vocabulary).
    Raises ValueError with what to do for values that make no sense."""
    try:
        temperature = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number, got {temperature!r}") from None
    if not temperature > 0 or temperature != temperature or temperature == float("inf"):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")
    if top_k is not None:
        if isinstance(top_k, bool) or int(top_k) != top_k:
            raise ValueError(f"top_k must be a whole number, got {top_k!r}")
        top_k = int(top_k)
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1 (or None for no limit), got {top_k}")
        if vocab_size is not None:
            top_k = min(top_k, vocab_size)
    if top_p is not None:
        try:
            top_p = float(top_p)
        except (TypeError, ValueError):
            raise ValueError(f"top_p must be a number in (0, 1], got {top_p!r}") from None
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    return temperature, top_k, top_p


@dataclass(frozen=True)
class SamplingSettings:
    """How tokens are drawn, validated when made (ValueError saying what is wrong).

    top_k None: no limit; top_p None: off (1 is read as None: one spelling); guidance 1: off (> 1 only for
    models trained with condition dropout: the model checks that, `Net2NetTransformer.null_condition`); seed
    None: a fresh draw each time; sample False: greedy (argmax). Made once at the edge (the app's controls,
    `Pipeline.settings`, `Net2NetTransformer.sample`), then passed down as it is: nothing below validates again.

        SamplingSettings.resolve(task.sampling, entry.sampling, {"guidance": 2.0}, top_k=None)  # later wins
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    guidance: float = 1.0
    seed: int | None = None
    sample: bool = True

    def __post_init__(self):
        t, k, p = validate_sampling(self.temperature, self.top_k, self.top_p)
        try:
            g = float(self.guidance)
        except (TypeError, ValueError):
            raise ValueError(f"guidance must be a number >= 1, got {self.guidance!r}") from None
        if not g >= 1.0 or g == float("inf"):
            raise ValueError(f"guidance must be a finite number >= 1 (1 = off), got {g}")
        if self.seed is not None and (isinstance(self.seed, bool) or int(self.seed) != self.seed):
            raise ValueError(f"seed must be a whole number or None, got {self.seed!r}")
        if p == 1.0:
            p = None
        for name, value in (("temperature", t), ("top_k", k), ("top_p", p), ("guidance", g),
                            ("seed", None if self.seed is None else int(self.seed)), ("sample", bool(self.sample))):
            object.__setattr__(self, name, value)

    @classmethod
    def resolve(cls, *layers, **user) -> "SamplingSettings":
        """The settings of one request: the class defaults, then each layer in order (e.g. the task's defaults,
        the model's registry entry, the model's config), then the user's keywords; a later value wins, a key a
        layer leaves out keeps the earlier one, and so does None for temperature, guidance or sample (which have
        no None: "not given"; for top_k, top_p and seed None is a value). Layers may hold other keys (ignored);
        the user's may not."""
        names = {f.name for f in fields(cls)}
        unknown = set(user) - names
        if unknown:
            raise TypeError(f"unknown sampling settings {sorted(unknown)}; known: {sorted(names)}")
        values: dict = {}
        for layer in (*layers, user):
            values.update((k, v) for k, v in (layer or {}).items()
                          if k in names and (v is not None or k not in ("temperature", "guidance", "sample")))
        return cls(**values)

    def replace(self, **changes) -> "SamplingSettings":
        return replace(self, **changes)

    def generator(self) -> torch.Generator | None:
        return make_generator(self.seed)


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                  top_p: float | None = None) -> torch.Tensor:
    """logits (B, V) -> logits with filtered entries set to -inf."""
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        v, _ = torch.topk(logits, top_k)
        logits = logits.masked_fill(logits < v[..., [-1]], float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cum = sorted_logits.softmax(-1).cumsum(-1)
        remove = cum > top_p
        remove[..., 1:] = remove[..., :-1].clone()  # keep the first token that crosses top_p
        remove[..., 0] = False
        logits = logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))
    return logits


def pick(logits: torch.Tensor, sample: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, V) filtered logits -> (B, 1) token ids: argmax, or a draw by inverse CDF with one
    uniform number per row from `generator` (the same draw on every device for a CPU generator)."""
    probs = F.softmax(logits.float(), dim=-1)
    if not sample:
        return probs.argmax(-1, keepdim=True)
    gen_device = generator.device if generator is not None else probs.device
    u = torch.rand(probs.shape[0], 1, generator=generator, device=gen_device).to(probs.device)
    cdf = probs.cumsum(-1)
    idx = (cdf < u * cdf[:, -1:]).sum(-1, keepdim=True)
    return idx.clamp_(max=probs.shape[-1] - 1)


def guide(logits: torch.Tensor, guidance: float) -> torch.Tensor:
    """(2B, V) logits, conditional rows first, unconditional after -> (B, V) guided logits."""
    cond, uncond = logits.float().chunk(2)
    return uncond + guidance * (cond - uncond)


def _with_uncond(x: torch.Tensor, uncond: torch.Tensor | None, guidance: float) -> torch.Tensor:
    """The batch the model runs: x, or x and the unconditional branch stacked (2B, ...) for guidance."""
    if uncond is None or guidance == 1.0:
        return x
    if uncond.shape != x.shape:
        raise ValueError(f"the unconditional branch {tuple(uncond.shape)} must be shaped like {tuple(x.shape)}")
    return torch.cat((x, uncond.to(x.device)), dim=0)


def make_generator(seed: int | None = None, generator: torch.Generator | None = None) -> torch.Generator | None:
    if generator is not None:
        return generator
    if seed is None:
        return None
    return torch.Generator().manual_seed(int(seed))


@torch.no_grad()
def iter_sample(gpt: GPT, prefix: torch.Tensor, steps: int, temperature: float = 1.0, sample: bool = True,
                top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
                use_cache: bool = True, guidance: float = 1.0,
                uncond: torch.Tensor | None = None, cond_emb: torch.Tensor | None = None,
                uncond_emb: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
    """Extend prefix (B, P) by `steps` tokens; yields the whole sequence (B, P + k) after each new token.
    guidance > 1 with uncond (B, P), the prefix of the unconditional branch: classifier-free guidance.
    cond_emb (B, P + steps - 1, C): aligned conditioning, added to the input at every sequence position
    (`taming_lite.cond_encoder.to_sequence` of the features, after P - 1 leading positions);
    uncond_emb: the same for the unconditional branch."""
    if prefix.dim() != 2 or prefix.shape[1] < 1:
        raise ValueError(f"prefix must be (B, P) with P >= 1, got shape {tuple(prefix.shape)}")
    total = prefix.shape[1] + steps
    if total - 1 > gpt.config.block_size:  # the last token is never fed to the model
        raise ValueError(f"{prefix.shape[1]} + {steps} tokens exceed the model's block_size {gpt.config.block_size}")
    B = prefix.shape[0]
    if cond_emb is not None:
        if cond_emb.shape[:2] != (B, total - 1):
            raise ValueError(f"cond_emb {tuple(cond_emb.shape)} must be (B, P + steps - 1, C) = ({B}, {total - 1}, C)")
        cond_emb = _with_uncond(cond_emb, uncond_emb, guidance)
    x = _with_uncond(prefix, uncond, guidance)  # (B or 2B, P)
    guided = x.shape[0] != B
    if cond_emb is not None and cond_emb.shape[0] != x.shape[0]:
        raise ValueError("guidance with cond_emb needs both uncond and uncond_emb")
    cache = gpt.new_cache(x.shape[0], max(total - 1, 1)) if use_cache else None
    for k in range(steps):
        emb = None if cond_emb is None else cond_emb[:, : x.shape[1]]
        if cache is not None:
            start = 0 if k == 0 else x.shape[1] - 1
            logits = gpt.forward_cached(x[:, start:], cache, start, cond_emb=None if emb is None else emb[:, start:])
        else:
            logits = gpt(x, cond_emb=emb)[0][:, -1]
        if guided:
            logits = guide(logits, guidance)
        ix = pick(filter_logits(logits, temperature, top_k, top_p), sample, generator)
        x = torch.cat((x, ix.repeat(2, 1) if guided else ix), dim=1)  # (B, P + k + 1); tokens only, not the cache
        yield x[:B]


def sample_tokens(gpt: GPT, prefix: torch.Tensor, steps: int, callback: Callable[[int], None] | None = None,
                  **kwargs) -> torch.Tensor:
    """All of iter_sample: returns (B, P + steps). callback(k) is called before token k, as the original."""
    x, it = prefix, iter_sample(gpt, prefix, steps, **kwargs)
    for k in range(steps):
        if callback is not None:
            callback(k)
        x = next(it)
    return x


MAX_WINDOW_CACHES = 8  # KV caches kept by the sliding-window sampler (one per window column in use)


def _window_start(i: int, size: int, window: int, left: int, step: int = 1) -> int:
    """First row/column of a window placed so that i has `left` rows/columns before it (clamped to
    the grid). With step > 1 the window moves in steps of `step`: i then has between
    left - step // 2 and left - step // 2 + step - 1 before it."""
    if step <= 1:
        return max(0, min(i - left, size - window))
    return max(0, min((i - (left - step // 2)) // step * step, size - window))


def _row_step(row_step: int, wh: int) -> int:
    """row_step limited so that every row stays inside its window."""
    return max(1, min(int(row_step), wh // 2 + 1))


@torch.no_grad()
def iter_sample_sliding_window(gpt: GPT, cond: torch.Tensor, z: torch.Tensor, start: int = 0,
                               window: tuple[int, int] = (16, 16), block: int | None = None,
                               row_step: int = 1, temperature: float = 1.0, sample: bool = True,
                               top_k: int | None = None, top_p: float | None = None,
                               generator: torch.Generator | None = None, guidance: float = 1.0,
                               uncond: torch.Tensor | None = None, feat: torch.Tensor | None = None,
                               uncond_feat: torch.Tensor | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """Sample a token grid larger than the model's window (or, with a window as large as the grid, the
    whole grid with one KV cache: the same tokens as `iter_sample`).

    cond:     (B, H, W) conditioning token grid aligned with z (cropped with the window), or (B, Lc)
              a fixed conditioning sequence used for every window (e.g. the start token).
    uncond:   the unconditional branch's conditioning, shaped like cond, for guidance > 1.
    feat:     (B, C, H, W) aligned conditioning: the feature of token (i, j) is added to the GPT's input at the
              position that predicts it (cropped with the window); uncond_feat the null branch's, for guidance.
    z:        (B, H, W) token grid; raster positions < `start` are given and kept, the rest are sampled.
    block:    tokens of a row sampled per window placement (default ww // 2; 1 = per-token windows).
    row_step: rows the window moves down at a time (1 = as the original: the token's row at the
              window's middle row; s > 1: within s // 2 rows of it, so more window placements recur).
    Yields (number of tokens sampled so far, grid) after each token; the grid is updated in place.
    """
    B, H, W = z.shape
    wh, ww = min(window[0], H), min(window[1], W)
    block = max(1, min(block or max(1, ww // 2), ww))
    left = (ww - block) // 2
    row_step = _row_step(row_step, wh)
    grid_cond = cond.dim() == 3
    if grid_cond and cond.shape != z.shape:
        raise ValueError(f"conditioning grid {tuple(cond.shape)} must match the token grid {tuple(z.shape)}")
    c_len = wh * ww if grid_cond else cond.shape[1]
    if c_len + wh * ww - 1 > gpt.config.block_size:
        raise ValueError(f"window {wh}x{ww} with {c_len} conditioning tokens exceeds block_size {gpt.config.block_size}")
    cond = _with_uncond(cond, uncond, guidance)  # guidance: both branches as one batch of 2B
    guided = cond.shape[0] != B
    if feat is not None:
        if feat.shape[0] != B or feat.shape[2:] != z.shape[1:]:
            raise ValueError(f"condition features {tuple(feat.shape)} must be (B, C) + the token grid {tuple(z.shape[1:])}")
        feat = _with_uncond(feat, uncond_feat, guidance if guided else 1.0)
    z = _with_uncond(z, z, guidance) if guided else z.clone()
    out = z[:B]  # the conditional branch's grid, a view
    # One KV cache per window column j0, with the placement it holds and how many sequence positions
    # of it are filled. Everything fed to a cache was known when fed and never changes, so a later
    # block with the same placement (i0, j0) continues the cache where it stopped.
    caches: dict[int, tuple[object, int, int]] = {}  # j0 -> (KVCache, i0, filled), least recently used first
    done = 0
    for i in range(H):
        i0 = _window_start(i, H, wh, wh // 2, row_step)
        for jb in range(0, W, block):
            cols = [j for j in range(jb, min(jb + block, W)) if i * W + j >= start]
            if not cols:
                continue
            j0 = _window_start(cols[0], W, ww, left)
            win = z[:, i0 : i0 + wh, j0 : j0 + ww]  # (B or 2B, wh, ww), a view: sampled tokens show up
            c_seq = cond[:, i0 : i0 + wh, j0 : j0 + ww].reshape(z.shape[0], -1) if grid_cond else cond
            f_seq = None if feat is None else _window_features(feat[:, :, i0 : i0 + wh, j0 : j0 + ww], c_len)
            if j0 in caches:
                cache, held_i0, filled = caches.pop(j0)
                filled = filled if held_i0 == i0 else 0
            elif len(caches) >= MAX_WINDOW_CACHES:  # reuse the least recently used cache's memory
                cache, filled = caches.pop(next(iter(caches)))[0], 0
            else:
                cache, filled = gpt.new_cache(z.shape[0], c_len + wh * ww - 1), 0
            for j in cols:
                p = c_len + (i - i0) * ww + (j - j0)  # sequence index of the token to predict
                seq = torch.cat((c_seq, win.reshape(z.shape[0], -1)), dim=1)[:, filled:p]  # tokens still to feed
                logits = gpt.forward_cached(seq, cache, filled, cond_emb=None if f_seq is None else f_seq[:, filled:p])
                if guided:
                    logits = guide(logits, guidance)
                filled = p
                ix = pick(filter_logits(logits, temperature, top_k, top_p), sample, generator)[:, 0]
                z[:, i, j] = ix.repeat(2) if guided else ix
                done += 1
                yield done, out
            caches[j0] = (cache, i0, filled)


def _window_features(feat: torch.Tensor, c_len: int) -> torch.Tensor:
    """A window's features (B, C, wh, ww) -> (B, c_len - 1 + wh * ww, C) by sequence position: position
    c_len - 1 + k predicts the window's token k and gets its feature; earlier positions get none (zeros)."""
    seq = feat.flatten(2).transpose(1, 2)
    return F.pad(seq, (0, 0, c_len - 1, 0))


def sample_sliding_window(gpt: GPT, cond: torch.Tensor, z: torch.Tensor, **kwargs) -> torch.Tensor:
    out = z
    for _, out in iter_sample_sliding_window(gpt, cond, z, **kwargs):
        pass
    return out.clone()


@torch.no_grad()
def sample_sliding_window_per_token(gpt: GPT, cond: torch.Tensor, z: torch.Tensor, start: int = 0,
                                    window: tuple[int, int] = (16, 16), temperature: float = 1.0,
                                    sample: bool = True, top_k: int | None = None, top_p: float | None = None,
                                    generator: torch.Generator | None = None, block: int | None = None,
                                    row_step: int = 1, feat: torch.Tensor | None = None) -> torch.Tensor:
    """The original scheme: one full-window forward (no cache) per token, the token near the
    window's centre. Reference for tests and benchmarks. With `block` / `row_step` the windows are
    placed as `iter_sample_sliding_window` places them (still one uncached forward per token).
    feat (B, C, H, W): aligned conditioning, cropped with the window as there."""
    B, H, W = z.shape
    wh, ww = min(window[0], H), min(window[1], W)
    grid_cond = cond.dim() == 3
    row_step = _row_step(row_step, wh)
    if block is not None:
        block = max(1, min(block, ww))
    z = z.clone()
    for i in range(H):
        i0 = _window_start(i, H, wh, wh // 2, row_step)
        for j in range(W):
            if i * W + j < start:
                continue
            if block is None:
                j0 = _window_start(j, W, ww, ww // 2)
            else:  # the block's first sampled column decides the placement
                jb = j - j % block
                j0 = _window_start(max(jb, start - i * W), W, ww, (ww - block) // 2)
            c_seq = cond[:, i0 : i0 + wh, j0 : j0 + ww].reshape(B, -1) if grid_cond else cond
            seq = torch.cat((c_seq, z[:, i0 : i0 + wh, j0 : j0 + ww].reshape(B, -1)), dim=1)
            p = c_seq.shape[1] + (i - i0) * ww + (j - j0)
            emb = None if feat is None else _window_features(feat[:, :, i0 : i0 + wh, j0 : j0 + ww], c_seq.shape[1])
            logits = gpt(seq[:, :p], cond_emb=None if emb is None else emb[:, :p])[0][:, -1]
            z[:, i, j] = pick(filter_logits(logits, temperature, top_k, top_p), sample, generator)[:, 0]
    return z
