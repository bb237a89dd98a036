"""Layout-first landscapes: draw the label map and the depth map first, then an image that follows them.

    s = render_layout(seed=3, height=64, width=64)                      # a random layout, rendered
    s = render_layout(3, 64, 64, labels=painted_ids)                    # an image for a given label map
    s = render_layout(3, 64, 64, depth=drawn_depth)                     # ... or for a given depth map
    s.image, s.depth, s.labels                                          # as landscape.render's Landscape

Why: the 3D renderer (landscape.py) only makes what a camera sees of a heightfield (sky on top, terrain
bands receding to a horizon), so a transformer trained on its pairs alone never sees a sea beside grass,
a beach on a diagonal or a near wall, and ignores such conditions when a person draws them. Here the
layout comes first, from a broad distribution (`random_layout`): noisy horizontal bands, cells, blobs,
tilted splits and strokes of any class, and depth layouts of a ground ramp with near objects, walls,
steps and tilted planes. The image then follows the layout region by region: each region is coloured
and textured as its class with the materials of the 3D renderer (its albedos and skies), lit by the
normals of the depth map, and fogged by its distance. `composite` cuts two samples along a random mask,
labels and depth with them, so 3D renders take part in odd layouts too.

The user-style conditions the models are *evaluated* on come from a separate generator
(`taming_lite.data.user_style`), not from this one.
"""
from __future__ import annotations

import numpy as np

from . import noise as N
from .labels import LABEL_BY_NAME
from .landscape import _ALBEDO, _SKIES, Landscape

ID = LABEL_BY_NAME
SKY, CLOUDS = ID["sky-other"], ID["clouds"]
WATER = (ID["sea"], ID["river"], ID["water-other"])
GROUND = ("grass", "sand", "dirt", "snow", "hill", "bush", "sea", "water-other", "rock")
RAISED = ("mountain", "rock", "tree", "bush", "hill", "snow")  # classes that stand up from the ground
ALL = tuple(LABEL_BY_NAME)
_WATER_RGB = {"sea": (0.08, 0.22, 0.42), "river": (0.14, 0.32, 0.50), "water-other": (0.12, 0.36, 0.44)}
# texture strength and scale (cells across the image) per class
_TEXTURE = {"grass": (0.22, 16), "hill": (0.18, 10), "tree": (0.45, 20), "bush": (0.35, 16), "dirt": (0.25, 14),
            "sand": (0.12, 12), "rock": (0.35, 10), "mountain": (0.30, 8), "snow": (0.08, 8),
            "sea": (0.10, 24), "river": (0.10, 24), "water-other": (0.10, 24), "clouds": (0.25, 6),
            "sky-other": (0.0, 4)}


def _noise(rng, H: int, W: int, cells: int, octaves: int = 3) -> np.ndarray:
    """fBm in [0, 1] on an (H, W) grid."""
    S = max(H, W)
    return N.fbm(rng, S, base_cells=int(min(max(2, cells), S)), octaves=octaves)[:H, :W, 0]


def _grid(H: int, W: int):
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    return y / H, x / W


# --------------------------------------------------------------------------- label layouts


def _pick(rng, names=ALL) -> int:
    return ID[N.choice(rng, list(names))]


def _bands(rng, H, W) -> np.ndarray:
    """Noisy horizontal bands, top to bottom; classes anywhere, sky on top more often than not."""
    y, x = _grid(H, W)
    k = int(rng.integers(2, 6))
    cuts = np.sort(rng.random(k - 1)) * 0.85 + 0.075
    wob = (_noise(rng, H, W, 3) - 0.5) * N.uniform(rng, 0.0, 0.3)
    tilt = (x - 0.5) * N.uniform(rng, -0.4, 0.4)
    band = np.searchsorted(cuts, y + wob + tilt)
    classes = [SKY if rng.random() < 0.6 else _pick(rng)] + [_pick(rng) for _ in range(k - 1)]
    return np.array(classes, np.uint8)[band]


def _cells(rng, H, W) -> np.ndarray:
    """Voronoi cells with noisy borders, 3-7 of them."""
    y, x = _grid(H, W)
    n = int(rng.integers(3, 8))
    pts = rng.random((n, 2))
    warp = (_noise(rng, H, W, 4) - 0.5) * 0.25
    d = (y[None] + warp - pts[:, 0, None, None]) ** 2 + (x[None] - warp - pts[:, 1, None, None]) ** 2
    classes = np.array([_pick(rng) for _ in range(n)], np.uint8)
    return classes[d.argmin(0)]


def _split(rng, H, W) -> np.ndarray:
    """Two or three regions split by lines at any angle."""
    y, x = _grid(H, W)
    out = np.full((H, W), _pick(rng), np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        a = N.uniform(rng, 0.0, 2 * N.PI)
        off = N.uniform(rng, -0.3, 0.3)
        side = (x - 0.5) * N.cos(a) + (y - 0.5) * N.sin(a) + (_noise(rng, H, W, 4) - 0.5) * 0.1 > off
        out[side] = _pick(rng)
    return out


def _blobs(rng, base: np.ndarray) -> np.ndarray:
    """Noisy ellipses of a class on top of a layout."""
    H, W = base.shape
    y, x = _grid(H, W)
    out = base.copy()
    for _ in range(int(rng.integers(1, 4))):
        cy, cx, ry, rx = rng.random(), rng.random(), N.uniform(rng, 0.08, 0.35), N.uniform(rng, 0.08, 0.35)
        r = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 + (_noise(rng, H, W, 6) - 0.5) * 0.8
        out[r < 1.0] = _pick(rng)
    return out


def _strokes(rng, base: np.ndarray) -> np.ndarray:
    """Thick wandering strokes (rivers, paths, tree lines)."""
    H, W = base.shape
    y, x = _grid(H, W)
    out = base.copy()
    for _ in range(int(rng.integers(1, 3))):
        p = rng.random(2)
        ang = N.uniform(rng, 0, 2 * N.PI)
        width = N.uniform(rng, 0.03, 0.1)
        cls = _pick(rng)
        for _ in range(12):
            ang += N.uniform(rng, -0.5, 0.5)
            q = p + 0.08 * np.array([N.sin(ang), N.cos(ang)])
            t = np.clip(((y - p[0]) * (q[0] - p[0]) + (x - p[1]) * (q[1] - p[1])) / 0.0064, 0, 1)
            d = (y - p[0] - t * (q[0] - p[0])) ** 2 + (x - p[1] - t * (q[1] - p[1])) ** 2
            out[d < width ** 2] = cls
            p = q
    return out


def random_labels(rng, H: int, W: int) -> np.ndarray:
    """A label map (H, W) of COCO-Stuff ids from a broad distribution of layouts."""
    kind = N.choice(rng, ("bands", "cells", "split"), (5, 2, 2))
    out = {"bands": _bands, "cells": _cells, "split": _split}[kind](rng, H, W)
    if rng.random() < 0.5:
        out = _blobs(rng, out)
    if rng.random() < 0.3:
        out = _strokes(rng, out)
    return out


# --------------------------------------------------------------------------- depth


def ground_depth(rng, labels: np.ndarray) -> np.ndarray:
    """A depth map for a label map: sky 0; the ground a ramp from its horizon (the top of the non-sky part
    in each column) to the bottom; raised classes stand up at the depth of their region's foot."""
    H, W = labels.shape
    y, _ = _grid(H, W)
    solid = labels != SKY
    solid &= labels != CLOUDS
    top = np.where(solid.any(0), solid.argmax(0), H) / H  # horizon row per column
    near = N.uniform(rng, 0.6, 1.0)
    depth = np.clip((y - top[None]) / np.maximum(1.0 - top[None], 1e-3), 0, 1) ** N.uniform(rng, 1.0, 2.0) * near
    depth = np.where(solid, np.maximum(depth, 0.02), 0.0)
    raised = np.isin(labels, [ID[n] for n in RAISED])
    if raised.any():  # a column of raised pixels takes the depth at its lowest row
        foot = np.where(raised, y, -1).max(0)  # (W,)
        rows = np.clip((foot * H).astype(int), 0, H - 1)
        at_foot = depth[rows, np.arange(W)]
        depth = np.where(raised & (foot[None] >= 0), np.maximum(at_foot[None], 0.02), depth)
    return depth.astype(np.float32)


def random_depth(rng, H: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """A depth layout (near = 1, sky = 0) and its labels: a ground ramp below a (tilted) horizon, or a
    tilted plane filling the frame, with near blobs, walls, towers and steps standing on it."""
    y, x = _grid(H, W)
    ground = ID[N.choice(rng, GROUND)]
    if rng.random() < 0.15:  # a tilted plane filling the frame
        a = N.uniform(rng, 0, 2 * N.PI)
        depth = 0.5 + N.uniform(rng, 0.2, 0.5) * ((x - 0.5) * N.cos(a) + (y - 0.5) * N.sin(a)) * 2
        labels = np.full((H, W), ground, np.uint8)
    else:
        horizon = N.uniform(rng, 0.1, 0.7) + (x - 0.5) * N.uniform(rng, -0.5, 0.5)
        ramp = np.clip((y - horizon) / np.maximum(1.0 - horizon, 0.05), 0, 1)
        depth = ramp ** N.uniform(rng, 0.7, 2.0) * N.uniform(rng, 0.5, 1.0)
        labels = np.where(y < horizon, SKY, ground).astype(np.uint8)
        if rng.random() < 0.4:  # clouds in the sky
            labels[(labels == SKY) & (_noise(rng, H, W, 4) > N.uniform(rng, 0.55, 0.7))] = CLOUDS
        depth = np.where(labels == ground, np.maximum(depth, 0.02), 0.0)
    for _ in range(int(rng.integers(0, 5))):
        kind = N.choice(rng, ("blob", "wall", "tower", "step"), (3, 2, 2, 1))
        cls = ID[N.choice(rng, RAISED)]
        if kind == "blob":
            cy, cx, ry, rx = N.uniform(rng, 0.2, 0.9), rng.random(), N.uniform(rng, 0.1, 0.35), N.uniform(rng, 0.1, 0.35)
            r = ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2
            mask = r < 1.0
            d = N.uniform(rng, 0.4, 1.0) * (1.0 - N.uniform(rng, 0.0, 0.4) * r)  # a dome or a disc
        elif kind == "wall":
            x0 = N.uniform(rng, -0.2, 0.7)
            mask = (x > x0) & (x < x0 + N.uniform(rng, 0.2, 0.6)) & (y > N.uniform(rng, 0.0, 0.5))
            d = np.full_like(x, N.uniform(rng, 0.5, 1.0)) + (x - x0) * N.uniform(rng, -0.5, 0.5)
        elif kind == "tower":
            x0 = N.uniform(rng, 0.0, 0.85)
            mask = (x > x0) & (x < x0 + N.uniform(rng, 0.08, 0.25)) & (y > N.uniform(rng, 0.05, 0.5))
            d = np.full_like(x, N.uniform(rng, 0.4, 1.0))
        else:  # a raised step on one side: nearer than the ground it covers
            left = rng.random() < 0.5
            mask = (x < N.uniform(rng, 0.3, 0.6)) if left else (x > N.uniform(rng, 0.4, 0.7))
            mask &= y > N.uniform(rng, 0.3, 0.7)
            d = np.clip(depth + N.uniform(rng, 0.15, 0.4), 0, 1)
        mask &= d > depth  # it stands in front of what it covers
        depth = np.where(mask, np.clip(d, 0.02, 1.0), depth)
        labels = np.where(mask, cls, labels).astype(np.uint8)
    return np.clip(depth, 0, 1).astype(np.float32), labels


def labels_for_depth(rng, depth: np.ndarray) -> np.ndarray:
    """Labels that fit a drawn depth map: sky at 0, the ground where depth follows the rows' ramp, raised
    classes where it stands out from it."""
    H, W = depth.shape
    ground_name = N.choice(rng, ("grass", "sand", "dirt", "snow", "hill"))
    ground = ID[ground_name]
    raised = ID[N.choice(rng, [n for n in RAISED if n != ground_name])]
    row_med = np.median(np.where(depth > 0.01, depth, np.nan), axis=1, keepdims=True) if (depth > 0.01).any() else 0
    row_med = np.nan_to_num(row_med, nan=0.0)
    labels = np.full((H, W), ground, np.uint8)
    labels[depth - row_med > 0.08] = raised
    labels[depth <= 0.01] = SKY
    return labels


# --------------------------------------------------------------------------- the image


def _sky_rgb(rng, H, W, sky: dict) -> np.ndarray:
    y, x = _grid(H, W)
    t = np.clip(y * N.uniform(rng, 0.8, 1.6), 0, 1)[..., None]
    rgb = np.asarray(sky["zenith"]) * (1 - t) + np.asarray(sky["horizon"]) * t
    sx, sy = rng.random(), N.uniform(rng, 0.1, 0.6)
    glow = np.exp(-((x - sx) ** 2 + (y - sy) ** 2) / 0.02)[..., None] * 0.5 * sky["sun_strength"]
    return rgb + glow * np.asarray(sky["sun"])


def _shade(depth: np.ndarray, sun: np.ndarray) -> np.ndarray:
    """Lambert shading from the normals of the depth map read as a surface (depth = height toward us)."""
    gy, gx = np.gradient(depth * depth.shape[0] * 0.25)
    n = np.stack([-gx, -gy, np.ones_like(depth)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.clip(n @ sun, 0.0, 1.0)


def render_layout(seed, height: int = 64, width: int = 64, *, labels: np.ndarray | None = None,
                  depth: np.ndarray | None = None) -> Landscape:
    """An image that follows a label map and a depth map (either or both given; a random layout when
    neither is). Returns a Landscape: image (H, W, 3) uint8, depth (H, W) float32 in [0, 1], labels ids."""
    H, W = int(height), int(width)
    rng = N.make_rng(seed)
    if labels is None and depth is None:
        if rng.random() < 0.5:
            labels = random_labels(rng, H, W)
        else:
            depth, labels = random_depth(rng, H, W)
    elif labels is None:
        labels = labels_for_depth(rng, np.asarray(depth, np.float32))
    labels = np.asarray(labels, np.uint8)
    if labels.shape != (H, W) or (depth is not None and np.shape(depth) != (H, W)):
        raise ValueError(f"labels / depth must be {H}x{W}, got {labels.shape} / {np.shape(depth)}")
    if depth is None:
        depth = ground_depth(rng, labels)
    depth = np.clip(np.asarray(depth, np.float64), 0, 1)

    sky = _SKIES[N.choice(rng, list(_SKIES), (5, 2, 1, 2))]
    sky_rgb = _sky_rgb(rng, H, W, sky)
    elev = N.uniform(rng, *sky["elev"])
    az = N.uniform(rng, -1.2, 1.2)
    sun = np.array([N.sin(az) * N.cos(elev), -N.sin(elev), N.cos(az) * N.cos(elev) + 0.6])
    sun /= np.linalg.norm(sun)
    light = 0.45 + 0.75 * _shade(depth, sun)[..., None] * sky["sun_strength"]
    ambient = np.asarray(sky["horizon"])

    rgb = np.zeros((H, W, 3))
    names = {v: k for k, v in ID.items()}
    y, _ = _grid(H, W)
    for cid in np.unique(labels):
        name = names[int(cid)]
        m = labels == cid
        strength, cells = _TEXTURE[name]
        tex = (_noise(rng, H, W, cells * N.uniform(rng, 0.7, 1.4)) - 0.5) * 2
        if name == "sky-other":
            col = sky_rgb
        elif name == "clouds":
            col = np.asarray(sky["horizon"]) * 0.3 + 0.7 * np.asarray((0.93, 0.93, 0.95)) * (0.85 + 0.15 * tex[..., None])
        elif name in _WATER_RGB:
            body = np.asarray(_WATER_RGB[name]) * N.uniform(rng, 0.8, 1.2)
            fres = (1.0 - depth[..., None]) ** 2 * 0.6  # far water mirrors the sky
            col = body * (1 - fres) + sky_rgb[::-1] * fres + 0.05 * tex[..., None]
        else:
            albedo = np.asarray(_ALBEDO[name]) * N.uniform(rng, 0.8, 1.2)
            # near surfaces show coarse texture, far ones fine: mix two scales by depth
            fine = (_noise(rng, H, W, cells * 2.5) - 0.5) * 2
            t = depth[..., None] * tex[..., None] + (1 - depth[..., None]) * fine[..., None]
            col = albedo * (1 + strength * t) * light + 0.08 * ambient
            if name == "snow":
                col = col * (0.9 + 0.1 * np.asarray((0.85, 0.92, 1.0)))
        rgb[m] = np.broadcast_to(col, (H, W, 3))[m]
    fog = (np.clip(1.0 - depth, 0, 1) ** 4)[..., None] * N.uniform(rng, 0.2, 0.55)
    solid = (labels != SKY) & (labels != CLOUDS)
    rgb = np.where(solid[..., None], rgb * (1 - fog) + ambient * fog, rgb)
    info = dict(seed=seed, layout=True)
    return Landscape(image=N.to_uint8(rgb), depth=depth.astype(np.float32), labels=labels, info=info)


def composite(rng, a: Landscape, b: Landscape) -> Landscape:
    """Two samples cut along a random mask (a blob, a tilted split or noise): image, depth and labels
    together."""
    H, W = a.labels.shape
    y, x = _grid(H, W)
    kind = N.choice(rng, ("blob", "split", "noise"))
    if kind == "blob":
        cy, cx, r = rng.random(), rng.random(), N.uniform(rng, 0.15, 0.45)
        mask = ((y - cy) ** 2 + (x - cx) ** 2) < r * r
    elif kind == "split":
        ang = N.uniform(rng, 0, 2 * N.PI)
        mask = (x - 0.5) * N.cos(ang) + (y - 0.5) * N.sin(ang) > N.uniform(rng, -0.3, 0.3)
    else:
        mask = _noise(rng, H, W, 3) > 0.5
    pick = lambda u, v: np.where(mask if u.ndim == 2 else mask[..., None], v, u)  # noqa: E731
    return Landscape(image=pick(a.image, b.image), depth=pick(a.depth, b.depth).astype(np.float32),
                     labels=pick(a.labels, b.labels).astype(np.uint8), info=dict(composite=kind))


# share of each kind of sample in the "layout" source (the training mix of the labels and depth models)
MIX = (("render", 0.4), ("layout", 0.45), ("composite", 0.15))


def render_mix(seed, height: int = 64, width: int = 64) -> Landscape:
    """One sample of the "layout" training source: a 3D render (landscape.render), a layout-first render,
    or two of either cut along a random mask, chosen by the seed in the proportions of MIX."""
    from .landscape import render

    rng = N.make_rng(seed)
    kind = N.choice(rng, [k for k, _ in MIX], [w for _, w in MIX])
    sub = lambda i: (*np.atleast_1d(seed).tolist(), i)  # noqa: E731  (sub-seeds of this sample)

    def one(i):
        return render(sub(i), height, width) if rng.random() < 0.5 else render_layout(sub(i), height, width)

    if kind == "render":
        return render(sub(0), height, width)
    if kind == "layout":
        return render_layout(sub(0), height, width)
    return composite(rng, one(0), one(1))
