"""GPT in the minGPT layout of the original (same parameter names), with a preallocated KV cache.

    idx (B, T) token ids -> tok_emb + pos_emb (+ cond_emb) -> n_layer x Block -> ln_f -> head -> logits (B, T, vocab)

`cond_emb` (B, T, n_embd), optional, is added to the input embeddings: aligned conditioning, one
condition feature per position (`taming_lite.cond_encoder`); the paper's models never pass it.

Attention is computed with `torch.nn.functional.scaled_dot_product_attention`. For sampling, a
`KVCache` holds keys and values for every layer in tensors allocated once at full length, and
`GPT.forward_cached(idx, cache, pos)` writes the new tokens' keys/values in place at positions
[pos, pos + T) and attends over [0, pos + T): a prefill is one call with the whole prefix, each
further token one call with T = 1. Nothing grows with `torch.cat`. A call with T = 1 (in eval mode)
goes through `decode_one`, the same computation with fewer ops (2-D tensors, no mask): PyTorch ops
only, so the same on every device and CPU (`fast_decode = False` keeps the general path, e.g. to
compare; in fp32 both give the same logits).

The original registers a causal `attn.mask` buffer in every block; we build masks on the fly and
the checkpoint converter checks and drops those buffers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int
    n_layer: int = 12
    n_head: int = 8
    n_embd: int = 256
    embd_pdrop: float = 0.0
    resid_pdrop: float = 0.0
    attn_pdrop: float = 0.0
    n_unmasked: int = 0  # the first n_unmasked positions attend to each other without the causal mask

    def __post_init__(self):
        if self.n_embd % self.n_head != 0:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")

    def to_dict(self) -> dict:
        return asdict(self)


class KVCache:
    """Keys and values of all layers, preallocated: k, v (n_layer, B, n_head, max_len, head_dim)."""

    def __init__(self, config: GPTConfig, batch: int, max_len: int, device=None, dtype=torch.float32):
        if max_len > config.block_size:
            raise ValueError(f"cache length {max_len} exceeds the model's block_size {config.block_size}")
        shape = (config.n_layer, batch, config.n_head, max_len, config.n_embd // config.n_head)
        self.k = torch.empty(shape, device=device, dtype=dtype)
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.max_len = max_len


def attention_mask(T: int, pos: int, n_unmasked: int, device) -> torch.Tensor | None:
    """Boolean mask (T, pos + T) for queries at positions [pos, pos+T), True = attend.
    None where plain causal attention applies and SDPA's is_causal (or no mask, T == 1) suffices."""
    if n_unmasked == 0 and (T == 1 or pos == 0):
        return None
    q = torch.arange(pos, pos + T, device=device)[:, None]
    k = torch.arange(pos + T, device=device)[None, :]
    mask = k <= q
    if n_unmasked > 0:
        mask |= (q < n_unmasked) & (k < n_unmasked)
    return mask


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.key = nn.Linear(config.n_embd, config.n_embd)
        self.query = nn.Linear(config.n_embd, config.n_embd)
        self.value = nn.Linear(config.n_embd, config.n_embd)
        self.attn_drop = config.attn_pdrop
        self.resid_drop = nn.Dropout(config.resid_pdrop)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.n_head = config.n_head
        self.n_unmasked = config.n_unmasked
        self.qkv = None  # optional fused query|key|value projection set by taming_lite.quantize

    def forward(self, x, cache: KVCache | None = None, layer: int = 0, pos: int = 0):
        B, T, C = x.shape
        nh = self.n_head
        if self.qkv is not None:  # one matmul for the three projections: (B, T, 3C) -> 3 x (B, T, C)
            q, k, v = self.qkv(x).split(C, dim=-1)
        else:
            q, k, v = self.query(x), self.key(x), self.value(x)
        q = q.view(B, T, nh, C // nh).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, nh, C // nh).transpose(1, 2)
        v = v.view(B, T, nh, C // nh).transpose(1, 2)
        if cache is not None:  # write in place, then attend over everything so far
            cache.k[layer, :, :, pos : pos + T] = k
            cache.v[layer, :, :, pos : pos + T] = v
            k, v = cache.k[layer, :, :, : pos + T].to(q.dtype), cache.v[layer, :, :, : pos + T].to(q.dtype)
        mask = attention_mask(T, pos, self.n_unmasked, x.device)
        drop = self.attn_drop if self.training else 0.0
        is_causal = mask is None and T > 1
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop, is_causal=is_causal)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y))

    def decode_one(self, x, cache: KVCache, layer: int, pos: int):
        """One token per sequence, x (B, C) at position pos: forward() for T = 1 with fewer ops (2-D tensors,
        no transposes, no mask). Its key and value go into the cache at pos, then SDPA attends over the
        cache's [0, pos], in the cache's dtype (that of the weights unless GPT.kv_dtype says otherwise)."""
        B, C = x.shape
        nh = self.n_head
        if self.qkv is not None:  # one matmul for the three projections (taming_lite.quantize)
            qkv = self.qkv(x)  # (B, 3C)
        else:
            qkv = torch.cat([self.query(x), self.key(x), self.value(x)], -1)  # (B, 3C)
        q, k, v = qkv.view(B, 3, nh, C // nh).unbind(1)  # (B, nh, hs)
        kc, vc = cache.k[layer], cache.v[layer]  # (B, nh, max_len, hs)
        kc[:, :, pos], vc[:, :, pos] = k, v
        keys, values = kc[:, :, : pos + 1], vc[:, :, : pos + 1]  # (B, nh, pos + 1, hs)
        y = F.scaled_dot_product_attention(q.unsqueeze(2).to(kc.dtype), keys, values)  # (B, nh, 1, hs)
        return self.proj(y.view(B, C).to(x.dtype))


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.resid_pdrop),
        )

    def forward(self, x, cache: KVCache | None = None, layer: int = 0, pos: int = 0):
        x = x + self.attn(self.ln1(x), cache, layer, pos)
        return x + self.mlp(self.ln2(x))

    def decode_one(self, x, cache: KVCache, layer: int, pos: int):  # x (B, C)
        x = x + self.attn.decode_one(self.ln1(x), cache, layer, pos)
        fc, gelu, fc2 = self.mlp[0], self.mlp[1], self.mlp[2]  # (a slice would build a new Sequential each step)
        return x + fc2(gelu(fc(self.ln2(x))))


class GPT(nn.Module):
    fast_decode = True  # one-token steps through decode_one (False: the general path, e.g. to compare)
    kv_dtype = None  # the KV cache's dtype (None: the weights'; int8 models keep fp32: SDPA over fp32 was the faster)

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Parameter(torch.zeros(1, config.block_size, config.n_embd))
        self.drop = nn.Dropout(config.embd_pdrop)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def get_block_size(self) -> int:
        return self.config.block_size

    def _embed(self, idx, embeddings, pos, cond_emb=None):
        x = self.tok_emb(idx)  # (B, T, C)
        if embeddings is not None:  # prepended continuous embeddings, as in the original
            x = torch.cat((embeddings, x), dim=1)
        T = x.shape[1]
        if pos + T > self.config.block_size:
            raise ValueError(f"sequence of {pos + T} tokens exceeds block_size {self.config.block_size}")
        x = x + self.pos_emb[:, pos : pos + T]
        if cond_emb is not None:  # aligned conditioning: (B, T, C) added position by position
            x = x + cond_emb.to(x.dtype)
        return self.drop(x)

    def forward(self, idx, embeddings=None, targets=None, cond_emb=None):
        """Full forward as the original: returns (logits (B, T, vocab), loss or None).
        cond_emb (B, T, C): added to the input embeddings (aligned conditioning)."""
        x = self.blocks(self._embed(idx, embeddings, 0, cond_emb))
        logits = self.head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def new_cache(self, batch: int, max_len: int | None = None, device=None, dtype=None) -> KVCache:
        p = self.pos_emb
        dtype = dtype or self.kv_dtype or p.dtype
        return KVCache(self.config, batch, max_len or self.config.block_size, device or p.device, dtype)

    def forward_cached(self, idx, cache: KVCache, pos: int, last_only: bool = True, cond_emb=None):
        """Run tokens idx (B, T) at positions [pos, pos+T), reading and filling `cache`; cond_emb (B, T, C)
        is added to their embeddings (aligned conditioning). Returns logits for the last position
        (B, vocab) or for all T positions (B, T, vocab)."""
        if pos + idx.shape[1] > cache.max_len:
            raise ValueError(f"cache of length {cache.max_len} cannot hold {pos + idx.shape[1]} tokens")
        if idx.shape[1] == 1 and self.fast_decode and not self.training:
            logits = self.decode_one(idx[:, 0], cache, pos, None if cond_emb is None else cond_emb[:, 0])
            return logits if last_only else logits[:, None]
        x = self._embed(idx, None, pos, cond_emb)
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i, pos)
        if last_only:
            x = x[:, -1]
        return self.head(self.ln_f(x))

    def decode_one(self, idx, cache: KVCache, pos: int, cond_emb=None):
        """One token per sequence, idx (B,), at position pos -> logits (B, vocab): the sampling step.
        cond_emb (B, C): added to the token's embedding (aligned conditioning)."""
        x = self.tok_emb(idx) + self.pos_emb[0, pos]  # (B, C)
        if cond_emb is not None:
            x = x + cond_emb.to(x.dtype)
        for i, block in enumerate(self.blocks):
            x = block.decode_one(x, cache, i, pos)
        return self.head(self.ln_f(x))

    def configure_optimizer(self, lr: float, weight_decay: float = 0.01, betas=(0.9, 0.95)):
        return configure_optimizer(self, lr, weight_decay, betas)


def configure_optimizer(module: nn.Module, lr: float, weight_decay: float = 0.01, betas=(0.9, 0.95)):
    """AdamW with weight decay on matrices (dim >= 2) only, as nanoGPT; no pos_emb is decayed."""
    params = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    decay = [p for n, p in params if p.dim() >= 2 and not n.endswith("pos_emb")]
    no_decay = [p for n, p in params if p.dim() < 2 or n.endswith("pos_emb")]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def causal_mask_buffer(block_size: int, n_unmasked: int = 0) -> torch.Tensor:
    """The `attn.mask` buffer the original registers: (1, 1, block_size, block_size)."""
    mask = torch.tril(torch.ones(block_size, block_size))
    if n_unmasked > 0:
        mask[:n_unmasked, :n_unmasked] = 1
    return mask.view(1, 1, block_size, block_size)

