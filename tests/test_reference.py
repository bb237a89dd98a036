"""Our modules reproduce the original implementation's outputs (tests/fixtures/original), atol 1e-4."""

import pytest
import torch
from safetensors.torch import load_file

from taming_lite import load_original
from taming_lite.checkpoints import load_gpt_state

ATOL = 1e-4


def io(reference_dir, name):
    return load_file(str(reference_dir / f"{name}_io.safetensors"))


def close(a, b):
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < ATOL


@torch.no_grad()
def test_vqgan(reference_dir):
    m = load_original(reference_dir / "vqgan.yaml", reference_dir / "vqgan.ckpt")
    d = io(reference_dir, "vqgan")
    h = m.quant_conv(m.encoder(d["x"]))
    close(h, d["h"])
    quant, _, indices = m.encode(d["x"])
    close(quant, d["quant"])
    assert torch.equal(indices.reshape(2, -1), d["indices"])
    close(m.decode(quant), d["dec"])
    close(m.decode_indices(d["indices"].view(2, 16, 16)), d["dec_from_indices"])
    assert torch.equal(m.encode_to_indices(d["x"]), d["indices"].view(2, 16, 16))


@torch.no_grad()
def test_segmentation_vqgan(reference_dir):
    m = load_original(reference_dir / "segvqgan.yaml", reference_dir / "segvqgan.ckpt")
    d = io(reference_dir, "segvqgan")
    assert m.is_segmentation
    onehot = torch.nn.functional.one_hot(d["labels"], 6).permute(0, 3, 1, 2).float()
    assert torch.equal(onehot, d["onehot"])
    dec, _, indices = m(d["onehot"])
    assert torch.equal(indices.reshape(2, -1), d["indices"])
    close(dec, d["dec"])


@torch.no_grad()
def test_gpt(reference_dir):
    gpt = load_gpt_state(reference_dir / "gpt_config.json", reference_dir / "gpt_state.safetensors")
    d = io(reference_dir, "gpt")
    logits, _ = gpt(d["idx"])
    close(logits, d["logits"])
    # the cache gives the same logits, fed in uneven chunks
    cache = gpt.new_cache(2, 40)
    parts = [gpt.forward_cached(d["idx"][:, a:b], cache, a, last_only=False) for a, b in ((0, 17), (17, 18), (18, 40))]
    close(torch.cat(parts, 1), d["logits"])


@pytest.mark.parametrize("name", ["net2net", "uncond"])
@pytest.mark.parametrize("use_cache", [True, False])
@torch.no_grad()
def test_conditional_transformer(reference_dir, name, use_cache):
    m = load_original(reference_dir / f"{name}.yaml", reference_dir / f"{name}.ckpt")
    d = io(reference_dir, name)
    x = d["x"]
    c = d.get("c", x)
    quant_z, z = m.encode_to_z(x)
    _, ci = m.encode_to_c(c)
    assert torch.equal(z, d["z_indices"])
    assert torch.equal(ci, d["c_indices"])
    logits, target = m(x, c)
    close(logits, d["logits"])
    assert torch.equal(target, d["z_indices"])
    calls = []
    out = m.sample(z[:, :128], ci, steps=128, sample=False, callback=calls.append, use_cache=use_cache)
    assert torch.equal(out, d["greedy_lower_half"])
    assert calls == list(range(128))
    if "greedy_image" in d:
        close(m.decode_to_img(out, quant_z.shape), d["greedy_image"])
