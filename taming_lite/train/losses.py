"""VQGAN training losses, as the original (`taming/modules/losses/vqperceptual.py`, `discriminator/model.py`).

    L_G = |x - x_rec|_1 (+ perceptual)  +  codebook_weight * L_codebook  +  d_weight * disc_factor * (-D(x_rec))
    L_D = hinge: mean(relu(1 - D(x))) + mean(relu(1 + D(x_rec)))      (both halves averaged: 0.5 * sum)

with d_weight = ||grad_last L_rec|| / (||grad_last L_GAN|| + 1e-4), clamped to [0, 1e4], times disc_weight:
the adaptive weight compares gradient norms at the decoder's last layer so that neither term swamps
the other. The GAN terms are off (factor 0) before `disc_start` steps.

Perceptual loss: LPIPS needs VGG16 ImageNet weights and the LPIPS linear heads. They cannot be
downloaded on every machine, so `LPIPS.from_local()` looks for them on disk only and returns None
when they are missing; the VQGAN loss then trains with L1 alone and says so once.

The segmentation VQGAN is trained as the original's `BCELossWithQuant`: BCE on one-hot labels plus
the codebook loss, no discriminator.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------- discriminator


def weights_init(m: nn.Module) -> None:
    """The original's init: N(0, 0.02) convs, N(1, 0.02) norm scales."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class NLayerDiscriminator(nn.Module):
    """PatchGAN discriminator as in pix2pix: (B, C, H, W) -> logits (B, 1, H', W'), one per patch."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        kw, padw = 4, 1
        sequence = [nn.Conv2d(input_nc, ndf, kw, 2, padw), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):  # gradually increase the number of filters
            prev, mult = mult, min(2 ** n, 8)
            sequence += [nn.Conv2d(ndf * prev, ndf * mult, kw, 2, padw, bias=False),
                         nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** n_layers, 8)
        sequence += [nn.Conv2d(ndf * prev, ndf * mult, kw, 1, padw, bias=False),
                     nn.BatchNorm2d(ndf * mult), nn.LeakyReLU(0.2, True)]
        sequence += [nn.Conv2d(ndf * mult, 1, kw, 1, padw)]  # one logit per patch
        self.main = nn.Sequential(*sequence)
        self.apply(weights_init)

    def forward(self, x):
        return self.main(x)


def hinge_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean())


def vanilla_d_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.softplus(-logits_real).mean() + F.softplus(logits_fake).mean())


D_LOSSES = {"hinge": hinge_d_loss, "vanilla": vanilla_d_loss}


def adopt_weight(weight: float, global_step: int, threshold: int = 0, value: float = 0.0) -> float:
    """`value` before `threshold` steps, `weight` from then on (the original's disc start)."""
    return value if global_step < threshold else weight


def adaptive_weight(nll_loss: torch.Tensor, g_loss: torch.Tensor, last_layer: torch.Tensor,
                    disc_weight: float = 1.0) -> torch.Tensor:
    """||d nll / d last|| / (||d g / d last|| + 1e-4), clamped to [0, 1e4], detached, times disc_weight."""
    nll_grads = torch.autograd.grad(nll_loss, last_layer, retain_graph=True)[0]
    g_grads = torch.autograd.grad(g_loss, last_layer, retain_graph=True)[0]
    d_weight = torch.norm(nll_grads) / (torch.norm(g_grads) + 1e-4)
    return torch.clamp(d_weight, 0.0, 1e4).detach() * disc_weight


# --------------------------------------------------------------------------- LPIPS (optional)

LPIPS_ENV = "TAMING_LITE_LPIPS"  # a directory holding vgg16 weights and the LPIPS heads
VGG_FILE = "vgg16-397923af.pth"  # torchvision's ImageNet VGG16 file name
LIN_FILE = "vgg.pth"             # LPIPS v0.1 linear heads (lin0..lin4), as the original downloads


def _lpips_search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(LPIPS_ENV):
        dirs.append(Path(os.environ[LPIPS_ENV]))
    dirs.append(Path("weights") / "lpips")
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return dirs


def find_lpips_files() -> tuple[Path, Path] | None:
    """(vgg16 weights, LPIPS heads) found on disk, or None. Never downloads."""
    def find(name):
        return next((d / name for d in _lpips_search_dirs() if (d / name).is_file()), None)

    vgg, lin = find(VGG_FILE), find(LIN_FILE)
    return (vgg, lin) if vgg is not None and lin is not None else None


class LPIPS(nn.Module):
    """Learned perceptual distance (Zhang et al. 2018) on VGG16 features, frozen."""

    CHANNELS = (64, 128, 256, 512, 512)
    CUTS = (4, 9, 16, 23, 30)  # vgg16.features indices ending relu1_2, relu2_2, relu3_3, relu4_3, relu5_3

    def __init__(self):
        super().__init__()
        from torchvision.models import vgg16

        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450])[None, :, None, None])
        features = vgg16(weights=None).features
        self.slices = nn.ModuleList()
        start = 0
        for cut in self.CUTS:
            self.slices.append(nn.Sequential(*[features[i] for i in range(start, cut)]))
            start = cut
        self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in self.CHANNELS)

    @classmethod
    def from_local(cls) -> LPIPS | None:
        files = find_lpips_files()
        if files is None:
            return None
        vgg_path, lin_path = files
        model = cls()
        vgg_state = torch.load(vgg_path, map_location="cpu", weights_only=True)
        feats = {k[len("features."):]: v for k, v in vgg_state.items() if k.startswith("features.")}
        for i, cut in enumerate(cls.CUTS):  # map features.{idx} to slices.{i}.{idx - start}
            start = 0 if i == 0 else cls.CUTS[i - 1]
            sub = {f"{int(k.split('.')[0]) - start}.{k.split('.', 1)[1]}": v for k, v in feats.items()
                   if start <= int(k.split(".")[0]) < cut}
            model.slices[i].load_state_dict(sub)
        lin_state = torch.load(lin_path, map_location="cpu", weights_only=True)
        for i, lin in enumerate(model.lins):
            lin.weight.data.copy_(lin_state[f"lin{i}.model.1.weight"])
        for p in model.parameters():
            p.requires_grad_(False)
        return model.eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x, y (B, 3, H, W) in [-1, 1] -> distance (B, 1, 1, 1)."""
        h_x, h_y = (x - self.shift) / self.scale, (y - self.shift) / self.scale
        total = 0.0
        for sl, lin in zip(self.slices, self.lins):
            h_x, h_y = sl(h_x), sl(h_y)
            n_x = h_x / (h_x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            n_y = h_y / (h_y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + lin((n_x - n_y) ** 2).mean([2, 3], keepdim=True)
        return total


@functools.lru_cache(maxsize=1)
def _say_no_lpips() -> None:
    dirs = ", ".join(str(d) for d in _lpips_search_dirs())
    print(f"[taming_lite.train] perceptual loss off: LPIPS weights ({VGG_FILE} and {LIN_FILE}) not found in {dirs}; "
          f"training with L1 + GAN only. Put the files in one of those directories (or set ${LPIPS_ENV}) to enable it.")


def make_perceptual(mode: str) -> LPIPS | None:
    """mode "auto" | "on" | "off" -> an LPIPS module or None."""
    if mode == "off":
        return None
    if mode not in ("auto", "on"):
        raise ValueError(f"loss.perceptual must be 'auto', 'on' or 'off', got {mode!r}")
    lpips = LPIPS.from_local()
    if lpips is None:
        if mode == "on":
            raise FileNotFoundError(f"loss.perceptual=on but LPIPS weights ({VGG_FILE}, {LIN_FILE}) are not in any of "
                                    f"{[str(d) for d in _lpips_search_dirs()]}")
        _say_no_lpips()
    return lpips


# --------------------------------------------------------------------------- the VQGAN objectives


class VQLoss(nn.Module):
    """Generator and discriminator losses of the image/depth VQGAN (the original's VQLPIPSWithDiscriminator).

    Holds the discriminator and, if available, the LPIPS network. `generator_loss` and
    `discriminator_loss` return (loss, dict of logged floats)."""

    def __init__(self, cfg, in_channels: int):
        super().__init__()
        self.cfg = cfg
        if cfg.disc_loss not in D_LOSSES:
            raise ValueError(f"loss.disc_loss must be one of {sorted(D_LOSSES)}, got {cfg.disc_loss!r}")
        self.discriminator = NLayerDiscriminator(in_channels, cfg.disc_ndf, cfg.disc_num_layers)
        # LPIPS is defined on RGB images; 1-channel (depth) VQGANs use L1 alone
        self.perceptual = make_perceptual(cfg.perceptual) if cfg.perceptual_weight > 0 and in_channels == 3 else None
        self.d_loss_fn = D_LOSSES[cfg.disc_loss]

    def reconstruction_loss(self, x, x_rec):
        rec = self.cfg.pixel_weight * (x - x_rec).abs()
        if self.perceptual is not None:
            rec = rec + self.cfg.perceptual_weight * self.perceptual(x.contiguous(), x_rec.contiguous())
        return rec.mean()

    def generator_loss(self, qloss, x, x_rec, step: int, last_layer: torch.Tensor | None, disc: nn.Module):
        """disc: the discriminator to call (the plain module; its parameters get no gradient here)."""
        nll = self.reconstruction_loss(x, x_rec)
        disc_factor = adopt_weight(self.cfg.disc_factor, step, threshold=self.cfg.disc_start)
        logs = {"rec": nll.item(), "q": qloss.item()}
        loss = nll + self.cfg.codebook_weight * qloss
        if disc_factor > 0:
            g_loss = -disc(x_rec.contiguous()).mean()
            if torch.is_grad_enabled() and last_layer is not None:
                d_weight = adaptive_weight(nll, g_loss, last_layer, self.cfg.disc_weight)
            else:
                d_weight = torch.tensor(0.0)
            loss = loss + d_weight * disc_factor * g_loss
            logs.update(g=g_loss.item(), d_weight=float(d_weight))
        return loss, logs

    def discriminator_loss(self, x, x_rec, step: int, disc: nn.Module):
        """disc: the (possibly DDP-wrapped) discriminator. Real and fake go through it in one batch."""
        logits = disc(torch.cat([x.contiguous().detach(), x_rec.contiguous().detach()]))
        logits_real, logits_fake = logits.chunk(2)
        disc_factor = adopt_weight(self.cfg.disc_factor, step, threshold=self.cfg.disc_start)
        d_loss = disc_factor * self.d_loss_fn(logits_real, logits_fake)
        return d_loss, {"d": d_loss.item(), "logits_real": logits_real.mean().item(),
                        "logits_fake": logits_fake.mean().item()}


def segmentation_loss(qloss: torch.Tensor, onehot: torch.Tensor, logits: torch.Tensor, codebook_weight: float = 1.0):
    """The original's BCELossWithQuant: BCE-with-logits on one-hot labels + codebook loss."""
    bce = F.binary_cross_entropy_with_logits(logits, onehot)
    return bce + codebook_weight * qloss, {"bce": bce.item(), "q": qloss.item()}
