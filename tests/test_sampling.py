"""Sampling: cached == uncached, filters, determinism, sliding window."""

import pytest
import torch

from taming_lite.gpt import GPT, GPTConfig
from taming_lite.sampling import (filter_logits, iter_sample, pick, sample_sliding_window,
                                  sample_sliding_window_per_token, sample_tokens, validate_sampling)


def tiny_gpt(block_size=160, vocab=32, seed=0):
    torch.manual_seed(seed)
    gpt = GPT(GPTConfig(vocab_size=vocab, block_size=block_size, n_layer=2, n_head=2, n_embd=32)).eval()
    with torch.no_grad():  # larger weights than the init so that logits are spread out
        for p in gpt.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return gpt


@pytest.mark.parametrize("batch", [1, 4])
def test_cached_equals_uncached_when_sampling(batch):
    gpt = tiny_gpt()
    prefix = torch.randint(0, 32, (batch, 10), generator=torch.Generator().manual_seed(1))
    kw = dict(temperature=1.0, sample=True, top_k=20, top_p=0.95)
    a = sample_tokens(gpt, prefix, 60, generator=torch.Generator().manual_seed(5), use_cache=True, **kw)
    b = sample_tokens(gpt, prefix, 60, generator=torch.Generator().manual_seed(5), use_cache=False, **kw)
    assert a.shape == (batch, 70)
    assert torch.equal(a, b)
    assert torch.equal(a[:, :10], prefix)


def test_sampling_is_deterministic_by_seed_and_varies_with_it():
    gpt = tiny_gpt()
    prefix = torch.zeros(2, 1, dtype=torch.long)
    run = lambda s: sample_tokens(gpt, prefix, 40, sample=True, generator=torch.Generator().manual_seed(s))
    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_iter_sample_yields_every_token_and_can_stop_early():
    gpt = tiny_gpt()
    it = iter_sample(gpt, torch.zeros(1, 1, dtype=torch.long), 30, sample=False)
    first = [next(it) for _ in range(3)]
    assert [t.shape[1] for t in first] == [2, 3, 4]
    it.close()


def test_filter_logits_top_k_and_top_p():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    assert torch.isinf(filter_logits(logits, top_k=2)[0, 2:]).all()
    assert torch.isfinite(filter_logits(logits, top_k=2)[0, :2]).all()
    probs = logits.softmax(-1)[0]  # 0.64, 0.24, ...: top_p 0.7 keeps the first two
    kept = torch.isfinite(filter_logits(logits, top_p=0.7))[0]
    assert kept.tolist() == [True, True, False, False, False]
    assert probs[0] < 0.7 < probs[:2].sum()
    assert torch.isfinite(filter_logits(logits, top_p=1.0)).all()
    assert torch.allclose(filter_logits(logits, temperature=2.0), logits / 2)


def test_pick_respects_filter():
    logits = filter_logits(torch.randn(64, 50), top_k=3)
    allowed = torch.isfinite(logits)
    ix = pick(logits, True, torch.Generator().manual_seed(0))
    assert allowed.gather(1, ix).all()


@pytest.mark.parametrize("bad", [dict(temperature=0), dict(temperature=-1), dict(temperature=float("nan")),
                                 dict(top_k=0), dict(top_k=-3), dict(top_k=2.5), dict(top_p=0.0),
                                 dict(top_p=1.5), dict(temperature="warm")])
def test_validate_sampling_refuses(bad):
    with pytest.raises(ValueError):
        validate_sampling(**bad)


def test_validate_sampling_clamps_top_k():
    assert validate_sampling(1.0, 5000, None, vocab_size=1024) == (1.0, 1024, None)


def test_too_long_sequence_is_refused():
    gpt = tiny_gpt(block_size=20)
    with pytest.raises(ValueError, match="block_size"):
        sample_tokens(gpt, torch.zeros(1, 5, dtype=torch.long), 30)


@pytest.mark.parametrize("start", [0, 13])
def test_sliding_window_equals_per_token_when_grid_fits_one_window(start):
    """Grid 6x8 in a 6x8 window: the block scheme is exactly the per-token scheme (greedy and sampled)."""
    gpt = tiny_gpt(block_size=2 * 48)
    g = torch.Generator().manual_seed(0)
    cond = torch.randint(0, 32, (2, 6, 8), generator=g)
    z = torch.randint(0, 32, (2, 6, 8), generator=g)
    for sample in (False, True):
        kw = dict(start=start, window=(6, 8), sample=sample, top_k=10)
        a = sample_sliding_window(gpt, cond, z, block=3, generator=torch.Generator().manual_seed(1), **kw)
        b = sample_sliding_window_per_token(gpt, cond, z, generator=torch.Generator().manual_seed(1), **kw)
        assert torch.equal(a, b)
        assert torch.equal(a.view(2, -1)[:, :start], z.view(2, -1)[:, :start])
        # and it equals plain cached sampling of the flattened sequence
        seq = torch.cat((cond.view(2, -1), z.view(2, -1)[:, :start]), 1)
        c = sample_tokens(gpt, seq, 48 - start, generator=torch.Generator().manual_seed(1), sample=sample, top_k=10)
        assert torch.equal(c[:, seq.shape[1] :], a.view(2, -1)[:, start:])


@pytest.mark.parametrize("block,row_step,start,max_caches", [(2, 1, 0, 8), (3, 3, 15, 8), (5, 2, 5, 1)])
def test_sliding_window_cache_reuse_is_exact(block, row_step, start, max_caches, monkeypatch):
    """On a grid larger than the window, continuing a cached window placement (when a later block
    has the same placement) gives the tokens of one uncached full-window forward per token with the
    same placements, sampled and greedy, whatever the number of caches kept."""
    import taming_lite.sampling as sampling

    monkeypatch.setattr(sampling, "MAX_WINDOW_CACHES", max_caches)
    gpt = tiny_gpt(block_size=2 * 20)
    g = torch.Generator().manual_seed(3)
    cond = torch.randint(0, 32, (2, 9, 11), generator=g)
    z = torch.randint(0, 32, (2, 9, 11), generator=g)
    for sample in (False, True):
        kw = dict(start=start, window=(4, 5), block=block, row_step=row_step, sample=sample, top_k=10)
        a = sample_sliding_window(gpt, cond, z, generator=torch.Generator().manual_seed(1), **kw)
        b = sample_sliding_window_per_token(gpt, cond, z, generator=torch.Generator().manual_seed(1), **kw)
        assert torch.equal(a, b)
        assert torch.equal(a.view(2, -1)[:, :start], z.view(2, -1)[:, :start])


def test_row_step_places_each_row_near_the_window_middle():
    from taming_lite.sampling import _window_start

    H, wh = 40, 16
    for step in (1, 2, 4, 8):
        starts = [_window_start(i, H, wh, wh // 2, step) for i in range(H)]
        assert starts == sorted(starts) and starts[0] == 0 and starts[-1] == H - wh
        assert len(set(starts)) <= (H - wh) // step + 2  # the window moves in steps
        for i, i0 in enumerate(starts):
            assert 0 <= i - i0 < wh
            if wh // 2 + step <= i < H - wh // 2:  # away from the borders: near the middle row
                assert wh // 2 - step // 2 <= i - i0 < wh // 2 - step // 2 + step
    assert [_window_start(i, H, wh, wh // 2, 1) for i in range(H)] == [max(0, min(i - 8, H - wh)) for i in range(H)]


def test_sliding_window_large_grid_with_start_token():
    gpt = tiny_gpt(block_size=1 + 16)
    z = torch.zeros(1, 9, 13, dtype=torch.long)
    sos = torch.zeros(1, 1, dtype=torch.long)
    out = sample_sliding_window(gpt, sos, z, window=(4, 4), sample=True, generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 9, 13)
    assert len(out.unique()) > 3
    again = sample_sliding_window(gpt, sos, z, window=(4, 4), sample=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_sliding_window_greedy_matches_per_token_in_first_window_block():
    """For a larger grid the schemes differ only in window placement; the very first tokens
    (window at the top-left corner in both) agree."""
    gpt = tiny_gpt(block_size=2 * 16)
    g = torch.Generator().manual_seed(2)
    cond = torch.randint(0, 32, (1, 8, 8), generator=g)
    z = torch.zeros(1, 8, 8, dtype=torch.long)
    a = sample_sliding_window(gpt, cond, z, window=(4, 4), block=2, sample=False)
    b = sample_sliding_window_per_token(gpt, cond, z, window=(4, 4), sample=False)
    assert torch.equal(a[0, 0, :2], b[0, 0, :2])


def test_sliding_window_refuses_mismatched_condition():
    gpt = tiny_gpt(block_size=64)
    with pytest.raises(ValueError, match="must match"):
        sample_sliding_window(gpt, torch.zeros(1, 4, 4, dtype=torch.long), torch.zeros(1, 5, 4, dtype=torch.long),
                              window=(4, 4))
