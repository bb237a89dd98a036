"""User-style conditions: what a person draws in the labels, depth and pose tabs, not what a renderer makes.

    ids = label_map(seed=4, height=64, width=64)    # (H, W) uint8 COCO-Stuff ids, 2-6 classes in simple shapes
    d = depth_map(4, 64, 64)                         # (H, W) float32 in [0, 1], near = 1, far / sky = 0
    kp = pose(4, 128, 128)                           # (18, 3) keypoints (x, y, visibility) in pixels
    conds = conditions("labels", n=24, size=64)      # n of them, as `Pipeline.prepare` takes them
    ids = named_label_map("sea under snowy mountains", 64, 64)   # the hand-made examples (app, sheets)

The held-out renders the evaluation used to score on come from the training renderers, so they cannot show
whether a model follows what a person paints: a label map of a few classes in bands, blobs, diagonals and
brush strokes, with any class anywhere (sea under a band of snowy mountains, grass left and sea right);
a depth map of simple shapes (ramps, near blobs, walls, towers, steps, tilted planes); a skeleton with raised,
spread, bent or crossed arms, legs apart, kneeling or sitting, at several sizes and places in the frame.
This module draws those from its own seeded streams, separate from the renderers (`landscape`, `human`,
`layout`). Pose angles are rendered by `human.render(..., angles=...)`, so each skeleton has a matching
human render (the pose ceiling of `taming_lite.evaluate`).

Shapes are drawn in coordinates relative to the image (x, y in [0, 1] at pixel centres), so a condition
looks the same at every size; only + - * / and comparisons touch the pixel grid (and `noise.sin` the few
scalar angles), so the maps are the same bytes on every machine, like the renderers'.

    python -m taming_lite.data.user_style --sheet docs/samples/user_style_conditions.png   # 12 of each task
"""
from __future__ import annotations

import argparse

import numpy as np

from .. import seeds
from . import human
from . import noise as N
from .labels import LABEL_BY_NAME, LABEL_IDS, colorize

TASKS = ("labels", "depth", "pose")
_STREAM = 7919  # tags every stream of this module: (tag, kind, *seed, attempt)
_LABELS, _DEPTH, _POSE = 1, 2, 3
MIN_REGION = 0.015  # share of the image the smallest painted region covers at least


def _rng(kind: int, seed, attempt: int = 0) -> np.random.Generator:
    s = [int(v) for v in seed] if isinstance(seed, (tuple, list)) else [int(seed)]
    return N.make_rng([_STREAM, kind, *s, attempt])


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres in [0, 1]: X (1, W), Y (H, 1)."""
    H, W = int(height), int(width)
    if not (8 <= H <= 4096 and 8 <= W <= 4096):
        raise ValueError(f"size must be within 8..4096 px, got {H}x{W}")
    return (np.arange(W, dtype=np.float64)[None] + 0.5) / W, (np.arange(H, dtype=np.float64)[:, None] + 0.5) / H


# --------------------------------------------------------------------------- shapes (boolean masks)


def _curve(rng, X: np.ndarray, y: float, amp: float, knots: int = 4) -> np.ndarray:
    """(1, W) a boundary at height y, gently wavy by up to +-amp (a smooth curve through random knots)."""
    ys = y + amp * (2 * rng.random(knots + 1) - 1)
    t = np.clip(X * knots, 0, knots - 1e-9)
    i = np.floor(t).astype(np.int64)
    f = t - i
    f = f * f * (3.0 - 2.0 * f)  # smoothstep between knots
    return ys[i] + (ys[i + 1] - ys[i]) * f


def _ellipse(X, Y, cx, cy, rx, ry, angle=0.0) -> np.ndarray:
    c, s = N.cos(angle), N.sin(angle)
    u, v = (X - cx) * c + (Y - cy) * s, (Y - cy) * c - (X - cx) * s
    return (u / rx) * (u / rx) + (v / ry) * (v / ry) <= 1.0


def _polygon(X, Y, pts) -> np.ndarray:
    """Points inside the closed polygon pts [(x, y), ...] (even-odd rule)."""
    inside = np.zeros(np.broadcast(X, Y).shape, bool)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
        if y0 == y1:
            continue
        crosses = (Y < y0) != (Y < y1)
        x_at = x0 + (Y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (X < x_at)
    return inside


def _stroke(X, Y, pts, width) -> np.ndarray:
    """A brush stroke: points within width / 2 of the polyline pts."""
    best = np.full(np.broadcast(X, Y).shape, np.inf)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((X - x0) * dx + (Y - y0) * dy) / (dx * dx + dy * dy + 1e-12), 0.0, 1.0)
        px, py = X - (x0 + t * dx), Y - (y0 + t * dy)
        best = np.minimum(best, px * px + py * py)
    return best <= (width / 2) * (width / 2)


def _side(X, Y, x0, y0, x1, y1) -> np.ndarray:
    """Points left of the directed line (x0, y0) -> (x1, y1) (image coordinates, y down)."""
    return (X - x0) * (y1 - y0) - (Y - y0) * (x1 - x0) > 0


def _ridge(X, peaks) -> np.ndarray:
    """(1, W) a mountain ridge: piecewise linear through [(x, y), ...] (x increasing)."""
    xs, ys = zip(*peaks)
    return np.interp(X, xs, ys)


def _random_polygon(rng, cx, cy, r, k) -> list[tuple[float, float]]:
    angles = np.sort(rng.random(k)) * 2 * N.PI
    radii = r * (0.6 + 0.4 * rng.random(k))
    return [(cx + float(q) * N.cos(a), cy + float(q) * N.sin(a)) for a, q in zip(angles, radii)]


def _random_polyline(rng, k) -> list[tuple[float, float]]:
    x, y = N.uniform(rng, 0.1, 0.9), N.uniform(rng, 0.1, 0.9)
    heading = N.uniform(rng, 0, 2 * N.PI)
    pts = [(x, y)]
    for _ in range(k - 1):
        heading += N.uniform(rng, -1.0, 1.0)
        step = N.uniform(rng, 0.15, 0.35)
        x, y = x + step * N.cos(heading), y + step * N.sin(heading)
        pts.append((x, y))
    return pts


# --------------------------------------------------------------------------- label maps


def _ids(*names: str) -> list[int]:
    return [LABEL_BY_NAME[n] for n in names]


_TOP = _ids("sky-other", "clouds")  # what people most often paint on top


def _random_shape(rng, X, Y) -> np.ndarray:
    kind = N.choice(rng, ("ellipse", "polygon", "stroke"), (4, 3, 2))
    if kind == "ellipse":
        return _ellipse(X, Y, N.uniform(rng, 0.1, 0.9), N.uniform(rng, 0.15, 0.9), N.uniform(rng, 0.08, 0.3),
                        N.uniform(rng, 0.06, 0.25), N.uniform(rng, 0, N.PI))
    if kind == "polygon":
        return _polygon(X, Y, _random_polygon(rng, N.uniform(rng, 0.15, 0.85), N.uniform(rng, 0.2, 0.85),
                                              N.uniform(rng, 0.12, 0.32), int(rng.integers(3, 7))))
    return _stroke(X, Y, _random_polyline(rng, int(rng.integers(2, 6))), N.uniform(rng, 0.07, 0.15))


def _random_label_map(rng, H: int, W: int) -> np.ndarray:
    X, Y = _grid(H, W)
    k = int(rng.integers(2, 7))  # classes wanted
    pool = [int(i) for i in LABEL_IDS[rng.permutation(len(LABEL_IDS))]]
    if rng.random() < 0.5:  # half the maps have sky or clouds on top, the rest any class anywhere
        top = N.choice(rng, _TOP)
        pool.remove(top)
        pool.insert(0, top)
    layout = N.choice(rng, ("bands", "split", "blobs", "strokes"), (4, 3, 2, 1))
    ids = np.full((H, W), pool[0], np.uint8)
    used = 1
    if layout == "bands":  # horizontal bands, straight, tilted or gently wavy
        n = min(k, int(rng.integers(2, 5)))
        cuts = np.sort(rng.random(n - 1)) * 0.8 + 0.1
        wavy = rng.random() < 0.6
        for j, y in enumerate(cuts):
            edge = _curve(rng, X, float(y), N.uniform(rng, 0.02, 0.08)) if wavy else \
                float(y) + N.uniform(rng, -0.15, 0.15) * (X - 0.5)
            ids[np.broadcast_to(Y > edge, ids.shape)] = pool[j + 1]
        used = n
    elif layout == "split":  # a vertical or diagonal split of the lower part (under an optional top band)
        top = N.uniform(rng, 0.2, 0.5) if (k >= 3 and rng.random() < 0.6) else 0.0
        x0, x1 = N.uniform(rng, 0.2, 0.8), N.uniform(rng, 0.0, 1.0)
        if rng.random() < 0.4:
            x1 = x0 + N.uniform(rng, -0.08, 0.08)  # near vertical: left half / right half
        first = 1 if top > 0 else 0
        ids[:] = pool[first]
        ids[np.broadcast_to(_side(X, Y, x0, 1.0, x1, top), ids.shape)] = pool[first + 1]
        if top > 0:
            ids[np.broadcast_to(Y < _curve(rng, X, top, 0.03), ids.shape)] = pool[0]
        used = first + 2
    elif layout == "strokes" and k >= 3 and rng.random() < 0.5:  # strokes over two bands
        ids[np.broadcast_to(Y > _curve(rng, X, N.uniform(rng, 0.3, 0.6), 0.05), ids.shape)] = pool[1]
        used = 2
    for cls in pool[used:k]:
        mask = _stroke(X, Y, _random_polyline(rng, int(rng.integers(2, 6))), N.uniform(rng, 0.07, 0.15)) \
            if layout == "strokes" else _random_shape(rng, X, Y)
        ids[mask] = cls
    return ids


def label_map(seed, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 COCO-Stuff ids of 2-6 of our classes in simple painted shapes, deterministic by seed
    (an int or a tuple of ints); every painted region covers at least MIN_REGION of the image."""
    for attempt in range(50):
        ids = _random_label_map(_rng(_LABELS, seed, attempt), height, width)
        _, counts = np.unique(ids, return_counts=True)
        if 2 <= len(counts) <= 6 and counts.min() >= MIN_REGION * ids.size:
            return ids
    raise RuntimeError(f"no label map for seed {seed!r} after 50 attempts")  # (never seen)


def _sea_under_mountains(X, Y):
    ridge = _ridge(X, [(0, 0.42), (0.18, 0.24), (0.35, 0.4), (0.55, 0.18), (0.75, 0.36), (0.9, 0.26), (1, 0.34)])
    ids = np.where(Y < ridge, *_ids("sky-other", "mountain"))
    ids = np.where((Y >= ridge) & (Y < 0.32), LABEL_BY_NAME["snow"], ids)
    return np.where(Y > 0.56, LABEL_BY_NAME["sea"], ids)


def _grass_left_sea_right(X, Y):
    ids = np.where(X < 0.5, *_ids("grass", "sea"))
    return np.where(Y < 0.35, LABEL_BY_NAME["sky-other"], ids)


def _diagonal_beach(X, Y):
    ids = np.where(_side(X, Y, 0.95, 1.0, 0.15, 0.4), *_ids("sea", "sand"))
    return np.where(Y < 0.4, LABEL_BY_NAME["sky-other"], ids)


def _forest_over_grass(X, Y):
    ids = np.where(Y < 0.3, *_ids("sky-other", "tree"))
    return np.where(Y > 0.55, LABEL_BY_NAME["grass"], ids)


def _river_in_valley(X, Y):
    ridge = _ridge(X, [(0, 0.3), (0.25, 0.18), (0.5, 0.36), (0.75, 0.2), (1, 0.28)])
    ids = np.where(Y < ridge, *_ids("sky-other", "mountain"))
    ids = np.where(Y > 0.42, LABEL_BY_NAME["grass"], ids)
    river = _stroke(X, Y, [(0.5, 0.42), (0.44, 0.6), (0.58, 0.78), (0.5, 1.02)], 0.11)
    return np.where(river & (Y > 0.42), LABEL_BY_NAME["river"], ids)


def _rock_and_dirt_under_clouds(X, Y):
    ids = np.where(Y < 0.4, *_ids("clouds", "rock"))
    return np.where((Y >= 0.4) & _side(X, Y, 0.62, 1.0, 0.42, 0.4), LABEL_BY_NAME["dirt"], ids)


NAMED_LABEL_MAPS = {  # name -> (X (1, W), Y (H, 1)) -> ids: the six painted maps of issue 32
    "sea under snowy mountains": _sea_under_mountains,
    "grass left, sea right": _grass_left_sea_right,
    "diagonal beach into the sea": _diagonal_beach,
    "forest band over grass": _forest_over_grass,
    "river down a green valley": _river_in_valley,
    "rock and dirt under clouds": _rock_and_dirt_under_clouds,
}


def _named(table: dict, kind: str, name: str):
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; named: {list(table)}")
    return table[name]


def _draw_named(table: dict, kind: str, name: str, height: int, width: int) -> np.ndarray:
    X, Y = _grid(height, width)
    return np.broadcast_to(_named(table, kind, name)(X, Y), (height, width))


def named_label_map(name: str, height: int, width: int) -> np.ndarray:
    """(H, W) uint8 ids of one of NAMED_LABEL_MAPS."""
    return _draw_named(NAMED_LABEL_MAPS, "label map", name, height, width).astype(np.uint8)


# --------------------------------------------------------------------------- depth maps


def _ramp(Y, horizon, lo=0.15, hi=1.0, gamma=1.0):
    """Ground from `lo` at the horizon (a row, or (1, W) a tilted one) to `hi` at the bottom; sky 0 above."""
    t = np.clip((Y - horizon) / np.maximum(1.0 - horizon, 1e-6), 0.0, 1.0)
    if gamma != 1.0:
        t = t * t if gamma > 1 else np.sqrt(t)
    return np.where(Y < horizon, 0.0, lo + (hi - lo) * t)


def _random_depth_map(rng, H: int, W: int) -> np.ndarray:
    X, Y = _grid(H, W)
    shape = (H, W)
    back = N.choice(rng, ("ramp", "tilted ramp", "plane", "flat"), (4, 3, 2, 1))
    if back == "ramp":
        d = _ramp(Y, N.uniform(rng, 0.2, 0.6), N.uniform(rng, 0.05, 0.35), N.uniform(rng, 0.7, 1.0),
                  N.choice(rng, (0.5, 1.0, 2.0)))
    elif back == "tilted ramp":
        horizon = N.uniform(rng, 0.25, 0.6) + N.uniform(rng, -0.4, 0.4) * (X - 0.5)
        d = _ramp(Y, horizon, N.uniform(rng, 0.05, 0.3), N.uniform(rng, 0.7, 1.0))
    elif back == "plane":  # a tilted plane filling the frame (a floor seen from above, a slope, a wall)
        a, bx, by = N.uniform(rng, 0.3, 0.6), N.uniform(rng, -0.8, 0.8), N.uniform(rng, -0.8, 0.8)
        d = np.clip(a + bx * (X - 0.5) + by * (Y - 0.5), 0.0, 1.0)
    else:
        d = np.full((1, 1), N.uniform(rng, 0.0, 0.3))
    d = np.broadcast_to(d, shape).copy()
    n = int(rng.integers(1 if back in ("plane", "flat") else 0, 4))
    for _ in range(n):
        kind = N.choice(rng, ("blob", "wall", "tower", "step", "patch"), (4, 2, 2, 2, 1))
        near = N.uniform(rng, 0.5, 1.0)
        if kind == "blob":  # a round object, flat or domed
            cx, cy, r = N.uniform(rng, 0.15, 0.85), N.uniform(rng, 0.3, 0.85), N.uniform(rng, 0.1, 0.28)
            ry = r * N.uniform(rng, 0.6, 1.2)
            q = ((X - cx) / r) * ((X - cx) / r) + ((Y - cy) / ry) * ((Y - cy) / ry)
            value = near * (0.75 + 0.25 * np.sqrt(np.clip(1 - q, 0, 1))) if rng.random() < 0.5 else near + 0 * q
            d = np.where(q <= 1, value, d)
        elif kind == "wall":  # one side of the frame, vertical, flat or receding
            w = N.uniform(rng, 0.2, 0.45)
            left = rng.random() < 0.5
            mask = (X < w) if left else (X > 1 - w)
            mask = mask & (Y > N.uniform(rng, 0.0, 0.3))
            recede = N.uniform(rng, 0.0, 0.4) * ((w - X) / w if left else (X - 1 + w) / w)
            d = np.where(mask, np.clip(near - 0.4 + recede + 0 * Y, 0, 1) if rng.random() < 0.5 else near + 0 * Y, d)
        elif kind == "tower":  # tall and narrow, standing on the bottom
            cx, w = N.uniform(rng, 0.1, 0.9), N.uniform(rng, 0.06, 0.16)
            mask = (np.abs(X - cx) < w / 2) & (Y > N.uniform(rng, 0.05, 0.4))
            d = np.where(mask, near, d)
        elif kind == "step":  # a raised block on one side of the bottom
            w, top = N.uniform(rng, 0.3, 0.6), N.uniform(rng, 0.45, 0.75)
            mask = ((X < w) if rng.random() < 0.5 else (X > 1 - w)) & (Y > top)
            d = np.where(mask, near, d)
        else:  # a tilted plane patch (a polygon with its own gradient)
            pts = _random_polygon(rng, N.uniform(rng, 0.25, 0.75), N.uniform(rng, 0.35, 0.8),
                                  N.uniform(rng, 0.15, 0.3), int(rng.integers(3, 6)))
            grad = np.clip(near - 0.3 + 0.6 * N.uniform(rng, -1, 1) * (X - 0.5) + 0.5 * (Y - 0.5), 0, 1)
            d = np.where(_polygon(X, Y, pts), grad, d)
    return np.clip(d, 0.0, 1.0).astype(np.float32)


def depth_map(seed, height: int, width: int) -> np.ndarray:
    """(H, W) float32 depth in [0, 1], near = 1, far / sky = 0: a ramp (straight or tilted), a tilted plane or
    a flat backdrop with up to three simple near shapes (blobs, walls, towers, steps, tilted patches)."""
    for attempt in range(20):
        d = _random_depth_map(_rng(_DEPTH, seed, attempt), height, width)
        if float(d.max() - d.min()) > 0.2:
            return d
    raise RuntimeError(f"no depth map for seed {seed!r} after 20 attempts")  # (never seen)


def _ramp_with_round_object_left(X, Y):
    return np.where(_ellipse(X, Y, 0.3, 0.62, 0.2, 0.2), 0.95, _ramp(Y, 0.4, 0.15, 0.8))


def _ramp_with_wall_right(X, Y):
    return np.where((X > 0.65) & (Y > 0.1), 0.7 + 0.25 * (X - 0.65) / 0.35, _ramp(Y, 0.4, 0.15, 0.8))


def _two_near_towers(X, Y):
    d = _ramp(Y, 0.45, 0.15, 0.8)
    d = np.where((np.abs(X - 0.27) < 0.08) & (Y > 0.12), 0.9, d)
    return np.where((np.abs(X - 0.72) < 0.08) & (Y > 0.2), 0.75, d)


def _raised_step_left(X, Y):
    return np.where((X < 0.5) & (Y > 0.55), 1.0, _ramp(Y, 0.4, 0.15, 0.75))


NAMED_DEPTH_MAPS = {  # name -> (X, Y) -> depth: the four drawn depth maps of issue 32
    "round object left of a ramp": _ramp_with_round_object_left,
    "near wall on the right": _ramp_with_wall_right,
    "two near towers": _two_near_towers,
    "raised step on the left": _raised_step_left,
}


def named_depth_map(name: str, height: int, width: int) -> np.ndarray:
    """(H, W) float32 depth in [0, 1] of one of NAMED_DEPTH_MAPS."""
    return np.clip(_draw_named(NAMED_DEPTH_MAPS, "depth map", name, height, width), 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- poses

# Angle keys as in `human.POSES` (degrees; arms / legs from straight down, positive = away from the body;
# elbow / knee: the lower segment's extra angle), plus lean, head_tilt, yaw (face turn, fraction of the head
# radius) and the placement (`human.PLACEMENT_KEYS`): scale (standing body height / image height), center_x
# (fraction of the width), width (shoulder and hip breadth, 1 = facing the camera; side-on < 1).
_REST = dict(r_arm=(5, 30), r_elbow=(-20, 20), l_arm=(5, 30), l_elbow=(-20, 20), r_leg=(0, 10), r_knee=(-5, 5),
             l_leg=(0, 10), l_knee=(-5, 5), thigh_fs=(1.0, 1.0), lean=(-6, 6), head_tilt=(-10, 10), yaw=(-0.3, 0.3))
ARM_KINDS = {  # name -> ranges of both arms (r_ keys; the left arm mirrors them unless the kind says otherwise)
    "down": dict(arm=(5, 30), elbow=(-20, 20)),
    "up": dict(arm=(145, 180), elbow=(-15, 15)),
    "spread": dict(arm=(75, 110), elbow=(-15, 15)),
    "bent": dict(arm=(40, 100), elbow=(70, 130)),
    "hands on hips": dict(arm=(35, 55), elbow=(-110, -85)),
    "crossed": dict(arm=(15, 40), elbow=(-150, -115)),
    "one up": dict(arm=(145, 180), elbow=(-15, 15), other=dict(arm=(5, 30), elbow=(-20, 20))),
    "waving": dict(arm=(95, 130), elbow=(40, 80), other=dict(arm=(5, 30), elbow=(-20, 20))),
    "any": dict(arm=(-30, 180), elbow=(-150, 150)),
}
LEG_KINDS = {
    "together": dict(leg=(0, 8), knee=(-5, 5)),
    "apart": dict(leg=(22, 45), knee=(-10, 10)),
    "kneeling": dict(leg=(5, 25), knee=(-115, -80), thigh_fs=(0.5, 0.8)),  # shins folded in under the body
    "sitting": dict(leg=(0, 15), knee=(-15, 10), thigh_fs=(0.25, 0.45)),
    "stride": dict(leg=(15, 30), knee=(-15, 0), other=dict(leg=(-25, -10), knee=(0, 15))),
    "any": dict(leg=(-20, 60), knee=(-60, 120), thigh_fs=(0.4, 1.0)),
}
_ARM_WEIGHTS = (1, 3, 3, 2, 1, 2, 2, 1, 2)
_LEG_WEIGHTS = (3, 3, 1, 2, 1, 1)


def _draw(rng, lo_hi) -> float:
    return N.uniform(rng, *lo_hi)


def pose_angles(seed) -> dict:
    """A pose as angles + placement (keys of `human.render(..., angles=)`), deterministic by seed; with "kind",
    e.g. "arms up, legs apart" (what the sampler aimed at; not used by the renderer)."""
    rng = _rng(_POSE, seed)
    a = {k: _draw(rng, v) for k, v in _REST.items()}
    arms = N.choice(rng, list(ARM_KINDS), _ARM_WEIGHTS)
    legs = N.choice(rng, list(LEG_KINDS), _LEG_WEIGHTS)
    side_on = rng.random() < 0.12  # turned sideways: the face turned far, the limbs on one side
    spec_a, spec_l = ARM_KINDS[arms], LEG_KINDS[legs]
    first = "r" if rng.random() < 0.5 else "l"  # the side "one up" / "waving" / "stride" applies to
    for s in ("r", "l"):
        ka = spec_a if s == first or "other" not in spec_a else spec_a["other"]
        kl = spec_l if s == first or "other" not in spec_l else spec_l["other"]
        a[f"{s}_arm"], a[f"{s}_elbow"] = _draw(rng, ka["arm"]), _draw(rng, ka["elbow"])
        a[f"{s}_leg"], a[f"{s}_knee"] = _draw(rng, kl["leg"]), _draw(rng, kl["knee"])
    if "thigh_fs" in spec_l:
        a["thigh_fs"] = _draw(rng, spec_l["thigh_fs"])
    if side_on:  # narrow shoulders and hips, the face turned away
        a["width"] = N.uniform(rng, 0.3, 0.6)
        a["yaw"] = (1 if rng.random() < 0.5 else -1) * N.uniform(rng, 0.4, 0.8)
        a["lean"] = N.uniform(rng, -12, 12)
    a["scale"] = N.uniform(rng, 0.35, 0.9)
    a["center_x"] = N.uniform(rng, 0.25, 0.75)
    a["kind"] = f"arms {arms}, legs {legs}" + (", side-on" if side_on else "")
    return a


NAMED_POSES = {  # name -> angles: the four drawn skeletons of issue 32 and a few more
    "arms up": dict(r_arm=170, r_elbow=0, l_arm=170, l_elbow=0, r_leg=6, r_knee=0, l_leg=6, l_knee=0),
    "arms spread": dict(r_arm=90, r_elbow=0, l_arm=90, l_elbow=0, r_leg=5, r_knee=0, l_leg=5, l_knee=0),
    "legs wide apart": dict(r_arm=25, r_elbow=0, l_arm=25, l_elbow=0, r_leg=38, r_knee=0, l_leg=38, l_knee=0),
    "one arm up": dict(r_arm=165, r_elbow=5, l_arm=12, l_elbow=5, r_leg=5, r_knee=0, l_leg=5, l_knee=0),
    "arms crossed": dict(r_arm=30, r_elbow=-135, l_arm=30, l_elbow=-135, r_leg=5, r_knee=0, l_leg=5, l_knee=0),
    "sitting, arms bent": dict(r_arm=70, r_elbow=100, l_arm=70, l_elbow=100, r_leg=8, r_knee=-8, l_leg=8,
                               l_knee=-8, thigh_fs=0.35),
}


def _full_angles(angles: dict) -> dict:
    a = {k: (lo + hi) / 2 for k, (lo, hi) in _REST.items()}
    a.update(lean=0.0, head_tilt=0.0, yaw=0.0, scale=0.8, center_x=0.5)
    a.update(angles)
    return a


def _render(seed, height: int, width: int, angles: dict) -> human.Human:
    """The human of these angles (`human.render(seed, H, W, angles=...)`: the seed picks the background,
    clothes and body proportions, the angles the pose and its placement)."""
    return human.render(seed, height, width, angles={k: v for k, v in _full_angles(angles).items() if k != "kind"})


def _in_frame(kp: np.ndarray, height: int, width: int, margin: float = 0.01) -> bool:
    x, y = kp[:, 0], kp[:, 1]
    m = margin * min(height, width)
    return bool((kp[:, 2] > 0).sum() >= 16 and (x >= m).all() and (x < width - m).all() and (y >= m).all()
                and (y < height - m).all())


def pose_human(seed, height: int, width: int):
    """The human render of `pose_angles(seed)` (shrunk until every keypoint is in the frame): its .keypoints is
    `pose(seed, ...)`, its .image the matching render (the pose ceiling of `taming_lite.evaluate`)."""
    a = pose_angles(seed)
    for _ in range(12):
        h = _render(seed, height, width, a)
        if _in_frame(h.keypoints, height, width):
            return h
        a = dict(a, scale=a["scale"] * 0.88, center_x=0.5 + (a["center_x"] - 0.5) * 0.8)
    raise RuntimeError(f"pose {seed!r} does not fit a {height}x{width} frame")  # (never seen)


def pose(seed, height: int, width: int) -> np.ndarray:
    """(18, 3) float32 keypoints (x, y in px, visibility) of a skeleton over the full range of joint angles."""
    return pose_human(seed, height, width).keypoints


def named_pose_human(name: str, height: int, width: int, seed=0):
    """The human render of one of NAMED_POSES (placed at the default scale and centre)."""
    return _render(seed, height, width, _named(NAMED_POSES, "pose", name))


def named_pose(name: str, height: int, width: int) -> np.ndarray:
    return named_pose_human(name, height, width).keypoints


# --------------------------------------------------------------------------- sets


def conditions(task: str, n: int, size, seed=seeds.USER_STYLE_SEED) -> list:
    """n user-style conditions of `task` as `Pipeline.prepare` takes them, item i from seed (seed, i):
    labels (H, W) uint8 COCO-Stuff ids; depth (H, W) float32 in [0, 1]; pose (18, 3) keypoints in pixels of
    `size` (the output size). `size`: int or (height, width)."""
    H, W = (size, size) if isinstance(size, int) else size
    make = {"labels": label_map, "depth": depth_map, "pose": pose}
    if task not in make:
        raise ValueError(f"user-style conditions exist for {TASKS}, not {task!r}")
    return [make[task]((seed, i), H, W) for i in range(int(n))]


def show(task: str, condition, height: int, width: int) -> np.ndarray:
    """A condition as an (H, W, 3) uint8 picture: labels in the palette, depth as grey, pose as a skeleton."""
    if task == "labels":
        return colorize(condition)
    if task == "depth":
        return np.repeat((np.asarray(condition) * 255).round().astype(np.uint8)[..., None], 3, -1)
    return human.draw_skeleton(condition, height, width)


def contact_sheet(n: int = 12, size: int = 64, seed=seeds.USER_STYLE_SEED, gap: int = 2) -> np.ndarray:
    """One row per task of its first n user-style conditions (labels, depth, pose), (rows, columns, 3) uint8."""
    rows = []
    for task in TASKS:
        tiles = [show(task, c, size, size) for c in conditions(task, n, size, seed)]
        row = np.full((size, n * (size + gap) - gap, 3), 255, np.uint8)
        for i, t in enumerate(tiles):
            row[:, i * (size + gap): i * (size + gap) + size] = t
        rows.append(row)
    sheet = np.full((3 * size + 2 * gap, rows[0].shape[1], 3), 255, np.uint8)
    for j, r in enumerate(rows):
        sheet[j * (size + gap): j * (size + gap) + size] = r
    return sheet


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m taming_lite.data.user_style", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sheet", required=True, help="PNG path: a contact sheet of n conditions per task")
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--seed", type=int, default=seeds.USER_STYLE_SEED)
    args = p.parse_args(argv)
    from PIL import Image

    Image.fromarray(contact_sheet(args.n, args.size, args.seed)).save(args.sheet)
    print(f"saved {args.sheet}")


if __name__ == "__main__":
    main()
