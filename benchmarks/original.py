"""Straightforward ports of the original taming-transformers code paths, used as baselines.

- `OriginalGPT`: taming/modules/transformer/mingpt.py (explicit attention with a registered causal
  mask, `forward_with_past` that concatenates the cache with `torch.cat`).
- `sample_no_cache`: Net2NetTransformer.sample (re-runs the whole sequence for every token).
- `sample_with_past`: scripts/sample_fast.py (the KV cache grown with `torch.cat` every token).
- `sliding_window_per_token`: the per-token window recompute of the original notebooks/scripts.
- `OriginalAttnBlock`: the VQGAN attention with bmm + softmax.
Weights are shared with our modules through state dicts (same parameter names).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.key = nn.Linear(n_embd, n_embd)
        self.query = nn.Linear(n_embd, n_embd)
        self.value = nn.Linear(n_embd, n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.register_buffer("mask", torch.tril(torch.ones(block_size, block_size)).view(1, 1, block_size, block_size))
        self.n_head = n_head

    def forward(self, x, layer_past=None):
        B, T, C = x.size()
        k = self.key(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = self.query(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = self.value(x).view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        present = torch.stack((k, v))
        if layer_past is not None:
            past_key, past_value = layer_past
            k = torch.cat((past_key, k), dim=-2)
            v = torch.cat((past_value, v), dim=-2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        if layer_past is None:
            att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y), present


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block_size):
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd)
        self.ln2 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, block_size)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(), nn.Linear(4 * n_embd, n_embd), nn.Dropout(0.0))

    def forward(self, x, layer_past=None, return_present=False):
        attn, present = self.attn(self.ln1(x), layer_past=layer_past)
        x = x + attn
        x = x + self.mlp(self.ln2(x))
        if layer_past is not None or return_present:
            return x, present
        return x


class OriginalGPT(nn.Module):
    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, block_size, n_embd))
        self.drop = nn.Dropout(0.0)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head, block_size) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.block_size, self.n_layer, self.n_head, self.n_embd = block_size, n_layer, n_head, n_embd

    @classmethod
    def from_ours(cls, gpt):
        c = gpt.config
        m = cls(c.vocab_size, c.block_size, c.n_layer, c.n_head, c.n_embd)
        missing, unexpected = m.load_state_dict(gpt.state_dict(), strict=False)
        assert not unexpected and all(k.endswith("attn.mask") for k in missing)
        return m.eval()

    def forward(self, idx):
        x = self.tok_emb(idx)
        t = x.shape[1]
        x = self.drop(x + self.pos_emb[:, :t, :])
        x = self.blocks(x)
        return self.head(self.ln_f(x)), None

    def forward_with_past(self, idx, past=None, past_length=None):
        x = self.tok_emb(idx)
        if past is not None:
            past = torch.cat(past, dim=-2)  # n_layer, 2, b, nh, len_past, dim_head
            pos = self.pos_emb[:, past_length, :]
        else:
            pos = self.pos_emb[:, : x.shape[1], :]
        x = self.drop(x + pos)
        presents = []
        for i, block in enumerate(self.blocks):
            x, present = block(x, layer_past=past[i, ...] if past is not None else None, return_present=True)
            presents.append(present)
        return self.head(self.ln_f(x)), None, torch.stack(presents)


def top_k_logits(logits, k):
    v, _ = torch.topk(logits, k)
    out = logits.clone()
    out[out < v[..., [-1]]] = -float("Inf")
    return out


@torch.no_grad()
def sample_no_cache(gpt, x, steps, top_k=None, sample=True):
    """Net2NetTransformer.sample: x is cond + given tokens; the whole sequence re-run per token."""
    for _ in range(steps):
        logits, _ = gpt(x)
        logits = logits[:, -1, :]
        if top_k is not None:
            logits = top_k_logits(logits, top_k)
        probs = F.softmax(logits, dim=-1)
        ix = torch.multinomial(probs, num_samples=1) if sample else torch.topk(probs, k=1, dim=-1)[1]
        x = torch.cat((x, ix), dim=1)
    return x


@torch.no_grad()
def sample_with_past(gpt, x, steps, top_k=None, sample=True):
    """scripts/sample_fast.py: a list of per-step presents, concatenated again at every step."""
    out, cond_len, past = x, x.shape[1], None
    for n in range(steps):
        logits, _, present = gpt.forward_with_past(x, past=past, past_length=(n + cond_len - 1))
        past = [present] if past is None else past + [present]
        logits = logits[:, -1, :]
        if top_k is not None:
            logits = top_k_logits(logits, top_k)
        probs = F.softmax(logits, dim=-1)
        x = torch.multinomial(probs, num_samples=1) if sample else torch.topk(probs, k=1, dim=-1)[1]
        out = torch.cat((out, x), dim=1)
    return out


@torch.no_grad()
def sliding_window_per_token(gpt, cidx, idx, window=16, top_k=None, tokens=None):
    """The original per-token sliding window: a full window forward for every token.
    `tokens` limits how many tokens are sampled (for timing)."""
    B, H, W = idx.shape
    half = window // 2
    done = 0
    for i in range(H):
        local_i = i if i <= half else (window - (H - i) if H - i < half else half)
        for j in range(W):
            local_j = j if j <= half else (window - (W - j) if W - j < half else half)
            i0, j0 = i - local_i, j - local_j
            patch = idx[:, i0 : i0 + window, j0 : j0 + window].reshape(B, -1)
            cpatch = cidx[:, i0 : i0 + window, j0 : j0 + window].reshape(B, -1)
            patch = torch.cat((cpatch, patch), dim=1)
            logits, _ = gpt(patch[:, :-1])
            logits = logits[:, -window * window :, :].reshape(B, window, window, -1)[:, local_i, local_j, :]
            if top_k is not None:
                logits = top_k_logits(logits, top_k)
            idx[:, i, j] = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)[:, 0]
            done += 1
            if tokens is not None and done >= tokens:
                return idx
    return idx


class OriginalAttnBlock(nn.Module):
    """taming/modules/diffusionmodules/model.py AttnBlock (bmm + softmax)."""

    def forward(self, x):
        h_ = self.norm(x)
        q, k, v = self.q(h_), self.k(h_), self.v(h_)
        b, c, h, w = q.shape
        q = q.reshape(b, c, h * w).permute(0, 2, 1)
        k = k.reshape(b, c, h * w)
        w_ = torch.bmm(q, k) * (int(c) ** (-0.5))
        w_ = F.softmax(w_, dim=2)
        v = v.reshape(b, c, h * w)
        h_ = torch.bmm(v, w_.permute(0, 2, 1)).reshape(b, c, h, w)
        return x + self.proj_out(h_)


def use_original_attention(vqgan):
    """Swap every AttnBlock's forward for the original's (same weights)."""
    from taming_lite.vqgan import AttnBlock

    for m in vqgan.modules():
        if isinstance(m, AttnBlock):
            m.forward = OriginalAttnBlock.forward.__get__(m)
    return vqgan
