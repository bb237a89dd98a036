"""Stand-ins for the paper's released checkpoints (random weights), in their original format: the
project YAML (written like the released ones: class paths, nested `ckpt_path`s to the authors'
logs, loss configs, a data section) and a Lightning `last.ckpt` (`state_dict` with `loss.*`
discriminator keys, epoch, global_step, Lightning version, optimizer states).

Architectures (from the original configs/*.yaml and the issue's table): f=16 VQGANs at 256 px
(ch_mult 1,1,2,2,4; 2 res blocks; attention at 16 px), 1024 or 16384 codes; S-FLCKR's cond stage a
VQModel with 182 input/output channels and `colorize_nlabels: 182`; D-RIN's a 1-channel one; the GPTs
vocab 1024, block 512, 24 layers x 1024, 16 heads. The class-conditional ImageNet model (`cin`): a
`taming.modules.util.Labelator` cond stage (1000 classes, the class id as one token), an f=16 VQGAN with
16384 codes, a GPT of vocab 16384, block 256, 48 layers x 1536, 24 heads (1.4 B parameters); it is
published as a zip of its log folder (`write_log_zip`).

`full=False` keeps every structural number (levels, strides, res blocks, attention, codes, vocab,
block size, label channels) but narrows the widths (VQGAN ch 32, z/embed 32; GPT 2 x 64, 2 heads)
so that a test samples a 256x256 image in seconds; `full=True` is the released size (~1.2-1.8 GB).
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

RELEASED = {  # registry name -> (tab, kind)
    "sflckr": ("labels", "labels"), "drin": ("depth", "depth"), "ffhq": ("completion", "faces"),
    "celebahq": ("completion", "faces"), "vqgan_imagenet_f16_1024": ("reconstruction", "vqgan1024"),
    "vqgan_imagenet_f16_16384": ("reconstruction", "vqgan16384"),
    "cin_transformer": ("completion", "cin"),
}
CIN_LOG = "2021-04-03T19-39-50_cin_transformer"  # the log folder inside the released zip
CIN_YAML = "2021-04-03T19-39-50-project.yaml"


def _vq(in_ch: int, n_embed: int, full: bool, ckpt_path: str | None = None, labels: bool = False) -> dict:
    w = 128 if full else 32
    z = 256 if full else 32
    params = {"embed_dim": z, "n_embed": n_embed,
              "ddconfig": {"double_z": False, "z_channels": z, "resolution": 256, "in_channels": in_ch, "out_ch": in_ch,
                           "ch": w, "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16],
                           "dropout": 0.0},
              "lossconfig": {"target": "taming.modules.losses.DummyLoss"}}
    if ckpt_path:
        params["ckpt_path"] = ckpt_path
    if labels:
        params.update(colorize_nlabels=in_ch, image_key="segmentation")
    return {"target": "taming.models.vqgan.VQModel", "params": params}


def project_config(kind: str, full: bool = False) -> dict:
    """The YAML of a released model as a dict (original layout)."""
    if kind.startswith("vqgan"):
        vq = _vq(3, int(kind.removeprefix("vqgan")), full)
        vq["params"]["lossconfig"] = {"target": "taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator",
                                      "params": {"disc_conditional": False, "disc_in_channels": 3, "disc_start": 0,
                                                 "disc_weight": 0.75, "codebook_weight": 1.0}}
        return {"model": {"base_learning_rate": 4.5e-6, **vq}}
    gpt = {"target": "taming.modules.transformer.mingpt.GPT",
           "params": {"vocab_size": 1024, "block_size": 512,
                      "n_layer": 24 if full else 2, "n_head": 16 if full else 2, "n_embd": 1024 if full else 64}}
    params = {"first_stage_key": "image", "transformer_config": gpt,
              "first_stage_config": _vq(3, 1024, full, "logs/2020-11-09T13-31-51_first_stage/checkpoints/last.ckpt")}
    if kind == "cin":  # class-conditional ImageNet: 16384 codes, the class id as the one condition token
        gpt["params"].update(vocab_size=16384, block_size=256, n_layer=48 if full else 2, n_head=24 if full else 2,
                             n_embd=1536 if full else 64)
        params.update(first_stage_config=_vq(3, 16384, full, "logs/2021-04-03T19-39-50_cin_vqgan/checkpoints/last.ckpt"),
                      cond_stage_key="class_label",
                      cond_stage_config={"target": "taming.modules.util.Labelator", "params": {"n_classes": 1000}})
    elif kind == "labels":
        params.update(cond_stage_key="segmentation", cond_stage_config=_vq(182, 1024, full, "logs/cond/last.ckpt", True))
    elif kind == "depth":
        params.update(cond_stage_key="depth", cond_stage_config=_vq(1, 1024, full, "logs/cond/last.ckpt"))
    else:  # unconditional faces
        params.update(cond_stage_key="class_label", cond_stage_config="__is_unconditional__", unconditional=True,
                      sos_token=0)
    return {"model": {"base_learning_rate": 4.5e-6, "target": "taming.models.cond_transformer.Net2NetTransformer",
                      "params": params},
            "data": {"target": "main.DataModuleFromConfig", "params": {"batch_size": 1}}}


def build_model(kind: str, full: bool = False, seed: int = 0):
    """Our model for the stand-in's config, with random weights (fixed seed)."""
    from taming_lite.checkpoints import config_from_original
    from taming_lite.gpt import GPT
    from taming_lite.net2net import Net2NetTransformer
    from taming_lite.vqgan import VQGAN

    model_type, config = config_from_original(project_config(kind, full))
    torch.manual_seed(seed)
    return {"vqgan": VQGAN, "gpt": GPT, "net2net": Net2NetTransformer}[model_type](config).eval()


def write(folder: Path, kind: str, full: bool = False, seed: int = 0, yaml_name: str = "2020-11-09T13-31-51-project.yaml",
          ckpt_name: str = "last.ckpt") -> tuple[Path, Path]:
    """Write `folder/<yaml_name>` and `folder/<ckpt_name>`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = build_model(kind, full, seed)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    g = torch.Generator().manual_seed(seed + 1)
    # what training leaves beside the weights: a patch discriminator and LPIPS under loss.*
    state["loss.discriminator.main.0.weight"] = torch.randn(64, 3, 4, 4, generator=g)
    state["loss.discriminator.main.0.bias"] = torch.randn(64, generator=g)
    state["loss.perceptual_loss.net.slice1.0.weight"] = torch.randn(64, 3, 3, 3, generator=g)
    ckpt = {"epoch": 12, "global_step": 123456, "pytorch-lightning_version": "1.0.8", "state_dict": state,
            "callbacks": {}, "optimizer_states": [{"state": {}, "param_groups": [{"lr": 4.5e-6, "params": [0]}]}],
            "lr_schedulers": []}
    config_path, ckpt_path = folder / yaml_name, folder / ckpt_name
    config_path.write_text(yaml.safe_dump(project_config(kind, full), sort_keys=False))
    torch.save(ckpt, ckpt_path)
    return config_path, ckpt_path


def write_log_zip(path: Path, kind: str = "cin", full: bool = False, seed: int = 0) -> Path:
    """The released zip of a log folder, as the cin transformer's: `<log>/configs/<yaml>`,
    `<log>/checkpoints/last.ckpt` (and the folders as their own entries)."""
    import tempfile
    import zipfile

    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        config, ckpt = write(Path(tmp), kind, full, seed, yaml_name=CIN_YAML)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:  # checkpoints do not compress
            for folder in ("", "configs/", "checkpoints/"):
                zf.writestr(f"{CIN_LOG}/{folder}", b"")
            zf.write(config, f"{CIN_LOG}/configs/{CIN_YAML}")
            zf.write(ckpt, f"{CIN_LOG}/checkpoints/last.ckpt")
    return path


def registry_entry(name: str, base_url: str, **extra) -> dict:
    """A registry entry like weights/registry.json's for `name`, its URLs under base_url (an archive entry's
    as `<base_url>/files/<name>/archive.zip#<member>`, the members of the real entry)."""
    import json

    real = {e["name"]: e for e in json.loads((Path(__file__).resolve().parents[1] / "weights" / "registry.json")
                                             .read_text())["models"]}[name]
    entry = {k: v for k, v in real.items() if k not in ("urls", "sha256")}
    entry["urls"] = {"config": f"{base_url}/files/{name}/config.yaml", "weights": f"{base_url}/files/{name}/last.ckpt"}
    if "#" in real["urls"]["weights"]:
        entry["urls"] = {k: f"{base_url}/files/{name}/archive.zip#{u.partition('#')[2]}" for k, u in real["urls"].items()}
    entry.update(extra)
    return entry


def use_registry(monkeypatch, tmp_path: Path, entries: list[dict]) -> Path:
    """A registry of `entries` as the weights folder (TAMING_LITE_WEIGHTS) and a fresh download cache
    (TAMING_LITE_CACHE = tmp_path/cache); returns the registry file."""
    import json

    reg = Path(tmp_path) / "reg" / "registry.json"
    reg.parent.mkdir(parents=True, exist_ok=True)
    reg.write_text(json.dumps({"format_version": 1, "models": entries}))
    monkeypatch.setenv("TAMING_LITE_WEIGHTS", str(reg.parent))
    monkeypatch.setenv("TAMING_LITE_CACHE", str(Path(tmp_path) / "cache"))
    return reg
