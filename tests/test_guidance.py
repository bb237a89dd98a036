"""Classifier-free guidance: condition dropout in training, guided sampling in both samplers and the Pipeline."""

import pytest
import torch

from taming_lite.gpt import GPTConfig
from taming_lite.net2net import Net2NetConfig, Net2NetTransformer, check_guidance
from taming_lite.sampling import guide, sample_sliding_window, sample_tokens
from taming_lite.pipeline import Pipeline
from taming_lite.vqgan import VQGANConfig

from test_sampling import tiny_gpt

VQ = dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(), z_channels=8, resolution=16,
          embed_dim=4, n_embed=16)


def tiny_net2net(cond_drop=0.2, guidance=2.0, seed=0):
    torch.manual_seed(seed)
    cfg = Net2NetConfig(first_stage=VQGANConfig(**VQ), cond_stage=VQGANConfig(**{**VQ, "in_channels": 1, "out_ch": 1,
                                                                                 "n_embed": 8}),
                        transformer=GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32),
                        cond_drop=cond_drop, guidance=guidance)
    net = Net2NetTransformer(cfg).eval()
    with torch.no_grad():
        for p in net.transformer.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return net


def test_guide_is_the_cfg_formula():
    c, u = torch.randn(3, 7), torch.randn(3, 7)
    assert torch.allclose(guide(torch.cat((c, u)), 2.5), u + 2.5 * (c - u))
    assert torch.allclose(guide(torch.cat((c, u)), 1.0), c)


def test_config_null_token_and_checks():
    net = tiny_net2net()
    assert net.config.null_token == 8 and net.config.guidable  # the first id above the cond codes
    with pytest.raises(ValueError, match="cond_drop"):
        tiny_net2net(cond_drop=1.0)
    with pytest.raises(ValueError, match="guidance"):
        tiny_net2net(guidance=0.5)
    full = dict(first_stage=VQGANConfig(**VQ), cond_stage=VQGANConfig(**{**VQ, "in_channels": 1, "out_ch": 1}),
                transformer=GPTConfig(vocab_size=16, block_size=128, n_layer=1, n_head=2, n_embd=32))
    with pytest.raises(ValueError, match="null token"):  # cond codes fill the vocabulary
        Net2NetConfig(**full, cond_drop=0.1)
    plain = Net2NetConfig(**full)  # e.g. the paper's models: no dropout, guidance off only
    check_guidance(plain, 1)
    with pytest.raises(ValueError, match="without condition dropout"):
        check_guidance(plain, 2)
    with pytest.raises(ValueError, match=">= 1"):
        check_guidance(net.config, 0.5)


def test_condition_dropout_replaces_whole_conditions_in_training_only():
    net = tiny_net2net(cond_drop=0.5)
    seen = []
    real = net.transformer.forward
    net.transformer.forward = lambda idx, *a, **k: seen.append(idx.clone()) or real(idx, *a, **k)
    z, c = torch.randint(0, 16, (64, 16)), torch.randint(0, 8, (64, 16))
    net.train()
    net.forward_indices(z, c, torch.Generator().manual_seed(0))
    fed = seen[-1][:, :16]
    dropped = (fed == 8).all(1)
    assert 15 < int(dropped.sum()) < 49  # about half of 64
    assert torch.equal(fed[~dropped], c[~dropped]) and not (fed[~dropped] == 8).any()
    net.eval()
    net.forward_indices(z, c)
    assert torch.equal(seen[-1][:, :16], c)


def test_guided_sampling_with_an_uncond_branch_equal_to_cond_is_unguided():
    gpt = tiny_gpt()
    prefix = torch.randint(0, 32, (2, 10), generator=torch.Generator().manual_seed(1))
    kw = dict(sample=True, top_k=20)
    a = sample_tokens(gpt, prefix, 30, generator=torch.Generator().manual_seed(5), **kw)
    b = sample_tokens(gpt, prefix, 30, generator=torch.Generator().manual_seed(5), guidance=3.0, uncond=prefix, **kw)
    assert torch.equal(a, b)


@pytest.mark.parametrize("use_cache", [True, False])
def test_guided_sampling_matches_a_step_by_step_reference(use_cache):
    gpt = tiny_gpt()
    g = torch.Generator().manual_seed(1)
    prefix, uncond = torch.randint(0, 32, (2, 6), generator=g), torch.randint(0, 32, (2, 6), generator=g)
    out = sample_tokens(gpt, prefix, 12, sample=False, guidance=2.0, uncond=uncond, use_cache=use_cache)
    x, u = prefix, uncond
    for _ in range(12):  # greedy on the guided logits of full uncached forwards of both branches
        lc, lu = gpt(x)[0][:, -1], gpt(u)[0][:, -1]
        ix = (lu + 2.0 * (lc - lu)).argmax(-1, keepdim=True)
        x, u = torch.cat((x, ix), 1), torch.cat((u, ix), 1)
    assert torch.equal(out, x)
    assert not torch.equal(out, sample_tokens(gpt, prefix, 12, sample=False))  # guidance changes the tokens


def test_sliding_window_guidance():
    gpt = tiny_gpt(block_size=2 * 16 + 16)
    g = torch.Generator().manual_seed(2)
    cond, z = torch.randint(0, 32, (1, 6, 8), generator=g), torch.zeros(1, 6, 8, dtype=torch.long)
    kw = dict(window=(4, 4), sample=True, top_k=10)
    plain = sample_sliding_window(gpt, cond, z, generator=torch.Generator().manual_seed(3), **kw)
    same = sample_sliding_window(gpt, cond, z, generator=torch.Generator().manual_seed(3), guidance=2.0,
                                 uncond=cond.clone(), **kw)
    assert torch.equal(plain, same)  # uncond == cond: the guided logits are the conditional ones
    null = torch.full_like(cond, 31)
    guided = sample_sliding_window(gpt, cond, z, generator=torch.Generator().manual_seed(3), guidance=3.0,
                                   uncond=null, **kw)
    assert guided.shape == z.shape and not torch.equal(guided, plain)
    with pytest.raises(ValueError, match="unconditional branch"):
        sample_sliding_window(gpt, cond, z, guidance=2.0, uncond=null[:, :3], **kw)


def pipeline(net):
    return Pipeline("depth", net, torch.device("cpu"), extra={"image_size": 16})


def test_pipeline_guidance_default_from_config_and_batched_branches():
    net = tiny_net2net(guidance=2.0)
    pipe = pipeline(net)
    assert pipe.defaults()["guidance"] == 2.0 and pipe.guidable
    job = pipe.prepare(torch.rand(16, 16).numpy())
    default = pipe.sample(job, seed=0, num_samples=2)
    explicit = pipe.sample(job, seed=0, num_samples=2, guidance=2.0)
    off = pipe.sample(job, seed=0, num_samples=2, guidance=1.0)
    assert all((a == b).all() for a, b in zip(default, explicit))
    assert any((a != b).any() for a, b in zip(default, off))
    # a 32x32-px output (16x16 tokens, larger than the 8x8-token window): the sliding window, guided
    big = pipe.prepare(torch.rand(32, 32).numpy(), size=(32, 32))
    assert len(pipe.sample(big, seed=0, num_samples=1, guidance=3.0)) == 1


def test_pipeline_refuses_guidance_for_models_without_dropout():
    pipe = pipeline(tiny_net2net(cond_drop=0.0, guidance=1.0))
    assert not pipe.guidable and pipe.defaults()["guidance"] == 1.0
    job = pipe.prepare(torch.rand(16, 16).numpy())
    pipe.sample(job, seed=0)  # off: fine
    with pytest.raises(ValueError, match="without condition dropout"):
        pipe.sample(job, seed=0, guidance=2.0)
