"""Procedural humans: an articulated, clothed figure, its 18 keypoints and skeleton image.

    sample = render(seed=5, height=128, width=96)              # random pose
    sample = render(5, 128, 96, pose="arms_up")                # a named preset (+ jitter)
    sample.image      # (H, W, 3) uint8
    sample.keypoints  # (18, 3) float32: x, y in pixels, visibility 1 (in frame) / 0
    sample.skeleton   # (H, W, 3) uint8, OpenPose colours on black
    sample.mask       # (H, W) bool, pixels covered by the figure

Keypoints follow the COCO/OpenPose-18 order in ``KEYPOINT_NAMES`` (person's right
is image left: the figure faces the camera). ``draw_skeleton(keypoints, H, W)``
draws any keypoints (e.g. user JSON) in the same style.

The figure is a 2D puppet: a torso polygon, tapered capsules for limbs, a head
disc with hair, shaded as cylinders lit from one side, with anti-aliased edges.
Joint angles come from presets, from every joint's whole range ("random") or are given; body
proportions, clothing (shirt with short/long sleeves, trousers, shorts or
skirt), colours, scale and position vary by seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import noise as N

KEYPOINT_NAMES = [
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
]
# OpenPose limb sequence (0-based keypoint indices) and colours
LIMBS = [(1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
         (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17)]
OPENPOSE_COLORS = np.array([
    [255, 0, 0], [255, 85, 0], [255, 170, 0], [255, 255, 0], [170, 255, 0], [85, 255, 0],
    [0, 255, 0], [0, 255, 85], [0, 255, 170], [0, 255, 255], [0, 170, 255], [0, 85, 255],
    [0, 0, 255], [85, 0, 255], [170, 0, 255], [255, 0, 255], [255, 0, 170], [255, 0, 85],
], dtype=np.uint8)

# Joint angles in degrees. Arms/legs: angle of the upper segment from straight
# down, positive = away from the body; bend: extra angle of the lower segment
# (positive = outwards/up). ``thigh_fs``: thigh foreshortening (sitting).
POSES = {
    "standing": dict(r_arm=12, r_elbow=5, l_arm=12, l_elbow=5, r_leg=5, r_knee=0, l_leg=5, l_knee=0),
    "walking": dict(r_arm=20, r_elbow=-25, l_arm=8, l_elbow=20, r_leg=14, r_knee=-12, l_leg=-2, l_knee=6),
    "arms_up": dict(r_arm=160, r_elbow=8, l_arm=160, l_elbow=8, r_leg=6, r_knee=0, l_leg=6, l_knee=0),
    "t_pose": dict(r_arm=90, r_elbow=0, l_arm=90, l_elbow=0, r_leg=6, r_knee=0, l_leg=6, l_knee=0),
    "waving": dict(r_arm=110, r_elbow=60, l_arm=10, l_elbow=5, r_leg=6, r_knee=0, l_leg=4, l_knee=0),
    "hands_on_hips": dict(r_arm=45, r_elbow=-95, l_arm=45, l_elbow=-95, r_leg=8, r_knee=0, l_leg=8, l_knee=0),
    "jumping_jack": dict(r_arm=135, r_elbow=10, l_arm=135, l_elbow=10, r_leg=22, r_knee=0, l_leg=22, l_knee=0),
    "sitting": dict(r_arm=15, r_elbow=-30, l_arm=15, l_elbow=-30, r_leg=8, r_knee=-8, l_leg=8, l_knee=-8,
                    thigh_fs=0.35),
}
_POSE_WEIGHTS = (4, 3, 2, 1, 2, 1, 1, 2)

_SKIN = [(0.98, 0.84, 0.72), (0.92, 0.74, 0.60), (0.80, 0.60, 0.45), (0.62, 0.44, 0.31),
         (0.45, 0.31, 0.22), (0.33, 0.23, 0.17)]
_HAIR = [(0.08, 0.06, 0.05), (0.25, 0.16, 0.09), (0.45, 0.30, 0.15), (0.80, 0.66, 0.40),
         (0.55, 0.22, 0.10), (0.60, 0.60, 0.60)]


@dataclass
class Human:
    image: np.ndarray      # (H, W, 3) uint8
    keypoints: np.ndarray  # (18, 3) float32 x, y, visibility
    skeleton: np.ndarray   # (H, W, 3) uint8
    mask: np.ndarray       # (H, W) bool figure coverage
    info: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# drawing primitives (anti-aliased, on a float canvas, inside a bounding box)

class _Canvas:
    def __init__(self, rgb: np.ndarray, light: tuple[float, float]):
        self.rgb = rgb
        self.H, self.W = rgb.shape[:2]
        self.mask = np.zeros((self.H, self.W))
        self.light = light  # (lx, ly) unit, image coords

    def _box(self, x0, y0, x1, y1):
        i0, i1 = max(int(np.floor(y0)), 0), min(int(np.ceil(y1)) + 1, self.H)
        j0, j1 = max(int(np.floor(x0)), 0), min(int(np.ceil(x1)) + 1, self.W)
        if i0 >= i1 or j0 >= j1:
            return None
        Y = (np.arange(i0, i1) + 0.5)[:, None]
        X = (np.arange(j0, j1) + 0.5)[None, :]
        return (slice(i0, i1), slice(j0, j1)), X, Y

    def _blend(self, sl, alpha, color, shade, body=True):
        a = alpha[..., None]
        col = np.asarray(color) * shade[..., None]
        region = self.rgb[sl]
        self.rgb[sl] = region + (col - region) * a
        if body:
            self.mask[sl] = np.maximum(self.mask[sl], alpha)

    def capsule(self, p0, p1, r0, r1, color, body=True, gloss=0.0):
        """Tapered capsule from p0 (radius r0) to p1 (radius r1), shaded as a cylinder."""
        (x0, y0), (x1, y1) = p0, p1
        rm = max(r0, r1)
        box = self._box(min(x0, x1) - rm - 1, min(y0, y1) - rm - 1, max(x0, x1) + rm + 1, max(y0, y1) + rm + 1)
        if box is None:
            return
        sl, X, Y = box
        dx, dy = x1 - x0, y1 - y0
        ll = dx * dx + dy * dy + 1e-9
        t = np.clip(((X - x0) * dx + (Y - y0) * dy) / ll, 0.0, 1.0)
        px = X - (x0 + t * dx)
        py = Y - (y0 + t * dy)
        dist = np.sqrt(px * px + py * py)
        r = r0 + (r1 - r0) * t
        alpha = np.clip(r - dist + 0.5, 0.0, 1.0)
        nx = np.clip(px / r, -1.0, 1.0)
        ny = np.clip(py / r, -1.0, 1.0)
        nz = np.sqrt(np.maximum(1.0 - nx * nx - ny * ny, 0.0))
        lx, ly = self.light
        shade = 0.62 + 0.38 * (nx * lx + ny * ly) + 0.18 * nz + gloss * nz * nz * nz * nz
        self._blend(sl, alpha, color, shade, body)

    def polygon(self, pts, color, body=True, shade_axis=None):
        """Convex polygon (counter-/clockwise), shaded across ``shade_axis`` = (centre_x, half_width)."""
        pts = np.asarray(pts, dtype=np.float64)
        box = self._box(pts[:, 0].min() - 1, pts[:, 1].min() - 1, pts[:, 0].max() + 1, pts[:, 1].max() + 1)
        if box is None:
            return
        sl, X, Y = box
        # signed distance to each edge (positive inside for either winding)
        area = 0.0
        for k in range(len(pts)):
            a, b = pts[k], pts[(k + 1) % len(pts)]
            area += a[0] * b[1] - b[0] * a[1]
        sign = 1.0 if area > 0 else -1.0
        inside = np.full(np.broadcast(X, Y).shape, 1e9)
        for k in range(len(pts)):
            a, b = pts[k], pts[(k + 1) % len(pts)]
            ex, ey = b[0] - a[0], b[1] - a[1]
            el = np.sqrt(ex * ex + ey * ey) + 1e-9
            d = sign * ((X - a[0]) * ey - (Y - a[1]) * ex) / el * -1.0
            inside = np.minimum(inside, d)
        alpha = np.clip(inside + 0.5, 0.0, 1.0)
        if shade_axis is not None:
            c, hw = shade_axis
            nx = np.clip((X - c) / hw, -1.0, 1.0) + 0.0 * Y
            shade = 0.62 + 0.38 * nx * self.light[0] + 0.18 * np.sqrt(np.maximum(1 - nx * nx, 0))
        else:
            shade = np.ones_like(alpha)
        self._blend(sl, alpha, color, shade, body)

    def ellipse(self, c, rx, ry, color, body=True, shaded=True, clip_below=None):
        cx, cy = c
        box = self._box(cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1)
        if box is None:
            return
        sl, X, Y = box
        ux = (X - cx) / rx
        uy = (Y - cy) / ry
        q = np.sqrt(ux * ux + uy * uy)
        alpha = np.clip((1.0 - q) * min(rx, ry) + 0.5, 0.0, 1.0)
        if clip_below is not None:
            alpha = alpha * np.clip(clip_below - Y + 0.5, 0.0, 1.0)
        if shaded:
            nx, ny = np.clip(ux, -1, 1), np.clip(uy, -1, 1)
            nz = np.sqrt(np.maximum(1 - nx * nx - ny * ny, 0))
            shade = 0.62 + 0.38 * (nx * self.light[0] + ny * self.light[1]) + 0.18 * nz
        else:
            shade = np.ones_like(alpha)
        self._blend(sl, alpha, color, shade, body)


# ---------------------------------------------------------------------------
# backgrounds

def _background(rng, H, W) -> tuple[np.ndarray, float]:
    """Returns the background RGB (H, W, 3) and the floor row (where feet stand)."""
    u = lambda a, b: N.uniform(rng, a, b)  # noqa: E731
    kind = N.choice(rng, ("room", "outdoor", "studio", "landscape"), (3, 3, 2, 2))
    Y = (np.arange(H)[:, None] + 0.5) / H
    X = (np.arange(W)[None, :] + 0.5) / W
    floor = u(0.45, 0.75)
    tex = N.value_noise(rng, 64, 16, 1)[..., 0]
    ti = (np.arange(H) * 64 // H)[:, None]
    tj = (np.arange(W) * 64 // W)[None, :]
    t = tex[ti, tj] - 0.5
    if kind == "landscape":
        from .landscape import render as render_landscape
        bg = render_landscape(int(rng.integers(2**31)), H, W).image.astype(np.float64) / 255.0
        return bg, H * u(0.75, 0.95)
    if kind == "studio":
        c = np.array([u(0.2, 0.95), u(0.2, 0.95), u(0.2, 0.95)])
        dx, dy = X - 0.5, Y - 0.45
        vign = 1.0 - 0.6 * (dx * dx + dy * dy)
        bg = c * vign[..., None] * (1.0 + 0.05 * t[..., None])
        return bg, H * u(0.8, 0.97)
    if kind == "room":
        wall = np.array([u(0.45, 0.95), u(0.45, 0.92), u(0.4, 0.9)])
        flo = np.array([u(0.25, 0.6), u(0.18, 0.45), u(0.1, 0.35)])
        bg = np.where((Y < floor)[..., None], wall * (0.9 + 0.15 * Y)[..., None],
                      flo * (0.7 + 0.5 * (Y - floor))[..., None])
        bg = bg * (1.0 + 0.08 * t[..., None])
        # a window or picture frame
        if rng.random() < 0.7:
            x0, x1 = sorted((u(0.0, 1.0), u(0.0, 1.0)))
            y0, y1 = u(0.05, 0.2), u(0.25, floor - 0.05)
            sel = (X > x0) & (X < x0 + max(x1 - x0, 0.15)) & (Y > y0) & (Y < y1)
            pane = np.array([u(0.5, 0.9), u(0.7, 0.95), u(0.8, 1.0)]) if rng.random() < 0.6 else \
                np.array([u(0.1, 0.9), u(0.1, 0.9), u(0.1, 0.9)])
            bg = np.where(sel[..., None], pane * (0.9 + 0.2 * (Y - y0))[..., None], bg)
        # skirting board
        sk = (Y > floor - 0.015) & (Y < floor + 0.005)
        bg = np.where(sk[..., None], bg * 0.7, bg)
        return bg, H * (floor + u(0.1, 1.0 - floor) * 0.9)
    # outdoor: sky + ground
    sky_top = np.array([u(0.2, 0.45), u(0.4, 0.6), u(0.75, 0.95)])
    sky_hor = np.array([u(0.7, 0.9), u(0.8, 0.92), u(0.88, 0.98)])
    ground = N.choice(rng, [(0.3, 0.5, 0.18), (0.55, 0.52, 0.48), (0.78, 0.7, 0.5), (0.4, 0.33, 0.25)])
    g = np.array(ground) * np.array([u(0.85, 1.15) for _ in range(3)])
    ts = np.clip(Y / floor, 0, 1)[..., None]
    skyc = sky_top + (sky_hor - sky_top) * ts
    gr = g * (0.8 + 0.4 * (Y - floor))[..., None] * (1.0 + 0.25 * t[..., None])
    bg = np.where((Y < floor)[..., None], skyc * np.ones_like(X)[..., None], gr)
    return bg, H * (floor + u(0.15, 1.0 - floor) * 0.9)


# ---------------------------------------------------------------------------
# pose -> joints

# "random": every joint over its whole range (degrees, as POSES), for training data that covers poses a
# person draws (arms crossed or raised, legs wide, kneeling, side-on), not only the presets.
JOINT_RANGES = dict(r_arm=(-30.0, 180.0), r_elbow=(-150.0, 150.0), l_arm=(-30.0, 180.0), l_elbow=(-150.0, 150.0),
                    r_leg=(-20.0, 70.0), r_knee=(-110.0, 60.0), l_leg=(-20.0, 70.0), l_knee=(-110.0, 60.0),
                    lean=(-25.0, 25.0), head_tilt=(-20.0, 20.0), yaw=(-0.5, 0.5))
ANGLE_KEYS = tuple(POSES["standing"]) + ("thigh_fs", "lean", "head_tilt", "yaw")
PLACEMENT_KEYS = ("scale", "center_x", "width")  # body height / image height, centre / image width, breadth


def _random_angles(rng) -> dict:
    a = {k: N.uniform(rng, lo, hi) for k, (lo, hi) in JOINT_RANGES.items()}
    a["thigh_fs"] = N.uniform(rng, 0.3, 1.0) if rng.random() < 0.3 else 1.0  # sitting / kneeling
    if rng.random() < 0.4:  # limbs mirrored: both arms up, both legs apart ...
        for j in ("arm", "elbow", "leg", "knee"):
            a[f"l_{j}"] = a[f"r_{j}"] + N.uniform(rng, -15.0, 15.0)
    a["scale"] = N.uniform(rng, 0.35, 0.95)
    a["center_x"] = N.uniform(rng, 0.2, 0.8)
    a["width"] = N.uniform(rng, 0.3, 1.0) if rng.random() < 0.25 else 1.0  # side-on: narrow shoulders, hips
    return a


def _pose_angles(rng, pose: str | None, angles: dict | None = None) -> tuple[str, dict]:
    if angles is not None:  # exactly these angles (missing ones: standing), no jitter
        unknown = set(angles) - set(ANGLE_KEYS) - set(PLACEMENT_KEYS)
        if unknown:
            raise ValueError(f"unknown angle keys {sorted(unknown)}; known: {ANGLE_KEYS + PLACEMENT_KEYS}")
        a = {**POSES["standing"], "thigh_fs": 1.0, "lean": 0.0, "head_tilt": 0.0, "yaw": 0.0}
        a.update({k: float(v) for k, v in angles.items()})
        return "custom", a
    if pose == "random":
        return pose, _random_angles(rng)
    if pose is None:
        pose = N.choice(rng, list(POSES), _POSE_WEIGHTS)
    if pose not in POSES:
        raise ValueError(f"unknown pose {pose!r}; presets: {sorted(POSES)} or 'random'")
    a = dict(POSES[pose])
    for k in list(a):
        if k != "thigh_fs":
            a[k] = a[k] + N.uniform(rng, -12.0, 12.0) * (0.6 if "leg" in k or "knee" in k else 1.0)
    a.setdefault("thigh_fs", 1.0)
    a["lean"] = N.uniform(rng, -5.0, 5.0)
    a["head_tilt"] = N.uniform(rng, -10.0, 10.0)
    a["yaw"] = N.uniform(rng, -0.35, 0.35)  # face turn, fraction of head radius
    return pose, a


def _dir(angle_deg: float, side: float) -> np.ndarray:
    """Unit vector at ``angle`` from straight down, turned outwards on ``side`` (-1 right, +1 left)."""
    r = angle_deg * N.PI / 180.0
    return np.array([side * N.sin(r), N.cos(r)])


def _skeleton_joints(rng, pose: str | None, H: int, W: int, floor_row: float, angles: dict | None = None):
    u = lambda a, b: N.uniform(rng, a, b)  # noqa: E731
    pose, ang = _pose_angles(rng, pose, angles)
    zoom = u(1.0, 1.35) if rng.random() < 0.15 else 1.0
    bh = H * u(0.6, 0.9) * zoom  # standing body height in px
    if pose == "sitting":
        bh = bh * 1.15
    if "scale" in ang:
        bh = H * ang["scale"]
    p = dict(  # proportions in body heights
        head=u(0.058, 0.07), neck=u(0.03, 0.045), sho=u(0.095, 0.125), torso=u(0.27, 0.31),
        hip=u(0.06, 0.08), uarm=u(0.16, 0.18), farm=u(0.14, 0.16), thigh=u(0.22, 0.25),
        shin=u(0.21, 0.24), limb=u(0.85, 1.2),
    )
    p["sho"] *= ang.get("width", 1.0)
    p["hip"] *= ang.get("width", 1.0)
    p = {k: v * bh if k != "limb" else v for k, v in p.items()}
    lean = ang["lean"] * N.PI / 180.0
    up = np.array([N.sin(lean), -N.cos(lean)])   # torso axis, towards the head
    side = np.array([-up[1], up[0]])              # towards the figure's left (image right)
    hipc = np.zeros(2)
    neck = hipc + up * p["torso"]
    J = {}
    J["neck"] = neck
    J["r_shoulder"] = neck - side * p["sho"] + up * (-0.02 * bh)
    J["l_shoulder"] = neck + side * p["sho"] + up * (-0.02 * bh)
    J["r_hip"] = hipc - side * p["hip"]
    J["l_hip"] = hipc + side * p["hip"]
    for s, sg in (("r", -1.0), ("l", 1.0)):
        d1 = _dir(ang[f"{s}_arm"], sg)
        d2 = _dir(ang[f"{s}_arm"] + ang[f"{s}_elbow"], sg)
        J[f"{s}_elbow"] = J[f"{s}_shoulder"] + d1 * p["uarm"]
        J[f"{s}_wrist"] = J[f"{s}_elbow"] + d2 * p["farm"]
        d3 = _dir(ang[f"{s}_leg"], sg)
        d4 = _dir(ang[f"{s}_leg"] + ang[f"{s}_knee"], sg)
        J[f"{s}_knee"] = J[f"{s}_hip"] + d3 * p["thigh"] * ang["thigh_fs"]
        J[f"{s}_ankle"] = J[f"{s}_knee"] + d4 * p["shin"]
    tilt = ang["head_tilt"] * N.PI / 180.0
    hup = np.array([N.sin(lean + tilt), -N.cos(lean + tilt)])
    hside = np.array([-hup[1], hup[0]])
    head_c = neck + hup * (p["neck"] + p["head"])
    yaw = ang["yaw"] * p["head"]
    J["nose"] = head_c - hup * (0.15 * p["head"]) + hside * yaw * 1.2
    J["r_eye"] = head_c + hup * (0.25 * p["head"]) - hside * (0.38 * p["head"] - yaw)
    J["l_eye"] = head_c + hup * (0.25 * p["head"]) + hside * (0.38 * p["head"] + yaw)
    J["r_ear"] = head_c + hup * (0.05 * p["head"]) - hside * (0.9 * p["head"] - 0.3 * yaw)
    J["l_ear"] = head_c + hup * (0.05 * p["head"]) + hside * (0.9 * p["head"] + 0.3 * yaw)

    # place: lowest ankle on the floor row, random x
    feet = max(J["r_ankle"][1], J["l_ankle"][1])
    cx = u(0.3, 0.7) * W
    if "center_x" in ang:
        cx = ang["center_x"] * W
    shift = np.array([cx, floor_row - feet - 0.02 * bh])
    J = {k: v + shift for k, v in J.items()}
    extra = dict(head_c=head_c + shift, hup=hup, hside=hside, yaw=ang["yaw"], bh=bh, p=p, hipc=hipc + shift,
                 up=up, side=side)
    return pose, J, extra


# ---------------------------------------------------------------------------

def render(seed, height: int = 256, width: int = 256, *, pose: str | None = None,
           angles: dict | None = None) -> Human:
    """Render one human figure. ``pose`` is a name in ``POSES`` (jittered), "random" (every joint over its
    range, ``JOINT_RANGES``) or None (a seeded choice of the presets). ``angles`` gives the pose exactly
    instead: keys of ``ANGLE_KEYS`` (missing: standing) and optionally ``PLACEMENT_KEYS`` (scale = body
    height / image height, center_x = fraction of the width, width = shoulder and hip breadth, 1 = facing
    the camera); the seed still picks the person, clothes and background."""
    H, W = int(height), int(width)
    if not (16 <= H <= 2048 and 16 <= W <= 2048):
        raise ValueError(f"size must be within 16..2048 px, got {H}x{W}")
    rng = N.make_rng(seed)
    u = lambda a, b: N.uniform(rng, a, b)  # noqa: E731
    bg, floor_row = _background(rng, H, W)
    pose, J, ex = _skeleton_joints(rng, pose, H, W, floor_row, angles)
    p, bh = ex["p"], ex["bh"]
    la = u(-1.0, 1.0)
    light = (la / np.sqrt(la * la + 0.5), -0.7 / np.sqrt(la * la + 0.5))
    cv = _Canvas(bg.copy(), light)

    skin = np.array(N.choice(rng, _SKIN)) * u(0.95, 1.05)
    hair = np.array(N.choice(rng, _HAIR)) * u(0.9, 1.1)
    def rcol(lo=0.05, hi=0.95):  # noqa: E306
        return np.array([u(lo, hi), u(lo, hi), u(lo, hi)])
    shirt, pants, shoes = rcol(), rcol(0.05, 0.7), rcol(0.02, 0.35)
    bottom = N.choice(rng, ("trousers", "shorts", "skirt"), (5, 2, 2))
    sleeves = N.choice(rng, ("long", "short"), (1, 1))
    long_hair = rng.random() < 0.4
    lw = p["limb"]
    r_uarm, r_farm = 0.034 * bh * lw, 0.027 * bh * lw
    r_thigh, r_shin = 0.05 * bh * lw, 0.037 * bh * lw

    # shadow on the floor
    fy = max(J["r_ankle"][1], J["l_ankle"][1]) + 0.02 * bh
    fx = 0.5 * (J["r_ankle"][0] + J["l_ankle"][0])
    cv.ellipse((fx, fy), 0.16 * bh, 0.025 * bh, (0.0, 0.0, 0.0), body=False, shaded=False)
    cv.rgb = bg + (cv.rgb - bg) * 0.35  # soft shadow
    if pose == "sitting":  # a stool / box to sit on
        seat = rcol(0.1, 0.6)
        hy = J["r_hip"][1]
        cv.polygon([(J["r_hip"][0] - 0.12 * bh, hy + 0.03 * bh), (J["l_hip"][0] + 0.12 * bh, hy + 0.03 * bh),
                    (J["l_hip"][0] + 0.12 * bh, fy), (J["r_hip"][0] - 0.12 * bh, fy)], seat, body=False,
                   shade_axis=(0.5 * (J["r_hip"][0] + J["l_hip"][0]), 0.25 * bh))
    head_c, hup = ex["head_c"], ex["hup"]
    if long_hair:
        cv.capsule(head_c, head_c - hup * 0.13 * bh, p["head"] * 1.05, p["head"] * 1.1, hair)

    # legs
    for s in ("r", "l"):
        hip, knee, ank = J[f"{s}_hip"], J[f"{s}_knee"], J[f"{s}_ankle"]
        leg_col = pants if bottom == "trousers" else skin
        thigh_col = pants if bottom in ("trousers", "shorts") else skin
        cv.capsule(knee, ank, r_shin * 1.05, r_shin * 0.8, leg_col)
        cv.capsule(hip, knee, r_thigh, r_shin * 1.05, thigh_col)
        foot = ank + np.array([(-1 if s == "r" else 1) * 0.03 * bh, 0.012 * bh])
        cv.capsule(ank, foot, 0.028 * bh, 0.028 * bh, shoes, gloss=0.3)
    if bottom == "skirt":
        hr, hl = J["r_hip"], J["l_hip"]
        kr = hr + (J["r_knee"] - hr) * 0.9
        kl = hl + (J["l_knee"] - hl) * 0.9
        flare = 0.05 * bh
        cv.polygon([hr - ex["side"] * 0.02 * bh, hl + ex["side"] * 0.02 * bh,
                    kl + ex["side"] * flare, kr - ex["side"] * flare], pants,
                   shade_axis=(0.5 * (hr[0] + hl[0]), 0.14 * bh))
    # torso
    rs, ls, rh, lh = J["r_shoulder"], J["l_shoulder"], J["r_hip"], J["l_hip"]
    side = ex["side"]
    tor = [rs - side * 0.01 * bh, ls + side * 0.01 * bh, lh + side * 0.02 * bh, rh - side * 0.02 * bh]
    cv.capsule(J["neck"] - ex["up"] * 0.01 * bh, J["neck"] + ex["up"] * 0.03 * bh, 0.028 * bh, 0.028 * bh, skin)
    cv.polygon(tor, shirt, shade_axis=(0.5 * (rs[0] + ls[0]), 0.5 * abs(ls[0] - rs[0]) + 0.02 * bh))
    cv.capsule(rs, ls, 0.035 * bh, 0.035 * bh, shirt)
    if bottom != "skirt":
        cv.capsule(rh, lh, 0.04 * bh, 0.04 * bh, pants)
    # arms
    for s in ("r", "l"):
        sh, el, wr = J[f"{s}_shoulder"], J[f"{s}_elbow"], J[f"{s}_wrist"]
        cv.capsule(sh, el, r_uarm, r_farm * 1.05, shirt)
        cv.capsule(el, wr, r_farm * 1.05, r_farm * 0.8, shirt if sleeves == "long" else skin)
        if sleeves == "long":
            hand = wr + (wr - el) * 0.25
        else:
            hand = wr + (wr - el) * 0.25
        cv.capsule(wr, hand, r_farm * 0.95, r_farm * 0.9, skin)
    # head, face, hair
    hr_ = p["head"]
    cv.ellipse(head_c, hr_ * 0.92, hr_, skin)
    cv.ellipse(head_c - hup * 0.35 * hr_, hr_ * 1.02, hr_ * 0.75, hair, clip_below=head_c[1] - 0.25 * hr_)
    eye_r = max(0.09 * hr_, 0.5)
    for e in ("r_eye", "l_eye"):
        cv.ellipse(J[e], eye_r, eye_r, (0.08, 0.06, 0.05), body=False, shaded=False)
    mouth = J["nose"] - hup * 0.35 * hr_
    cv.capsule(mouth - ex["hside"] * 0.18 * hr_, mouth + ex["hside"] * 0.18 * hr_, 0.04 * hr_ + 0.3, 0.04 * hr_ + 0.3,
               skin * 0.6, body=False)

    # keypoints: in frame -> visible; ears turned away are hidden
    kp = np.zeros((18, 3), dtype=np.float64)
    for i, n in enumerate(KEYPOINT_NAMES):
        kp[i, :2] = J[n]
        kp[i, 2] = 1.0
    yaw = ex["yaw"]
    if yaw > 0.25:
        kp[16, 2] = 0.0   # turned to his left: right ear hidden
    if yaw < -0.25:
        kp[17, 2] = 0.0
    inside = (kp[:, 0] >= 0) & (kp[:, 0] < W) & (kp[:, 1] >= 0) & (kp[:, 1] < H)
    kp[~inside, 2] = 0.0
    kp = kp.astype(np.float32)
    image = N.to_uint8(cv.rgb)
    info = dict(seed=seed, pose=pose, bottom=bottom, sleeves=sleeves)
    return Human(image=image, keypoints=kp, skeleton=draw_skeleton(kp, H, W), mask=cv.mask > 0.5, info=info)


def draw_skeleton(keypoints, height: int, width: int, stick_width: float | None = None) -> np.ndarray:
    """Draw 18 keypoints (x, y[, visibility]) as an OpenPose-style skeleton on black.

    Points with visibility <= 0, NaN coordinates or a missing entry (``None``) are
    skipped, with the limbs that use them. ``stick_width`` (px, default scales
    with the image) is the limb thickness. Returns uint8 (H, W, 3).
    """
    H, W = int(height), int(width)
    kp = _as_keypoints(keypoints)
    if stick_width is None:
        stick_width = max(2.0, min(H, W) / 48.0)
    cv = _Canvas(np.zeros((H, W, 3)), (0.0, 0.0))
    vis = (kp[:, 2] > 0) & np.isfinite(kp[:, 0]) & np.isfinite(kp[:, 1])
    colors = OPENPOSE_COLORS.astype(np.float64) / 255.0
    r = stick_width * 0.5
    # OpenPose order: joints first, then limbs blended at 60 % over them
    for i in range(18):
        if vis[i]:
            _flat_disc(cv, kp[i, :2], r * 1.5, colors[i], 1.0)
    for k, (a, b) in enumerate(LIMBS):
        if vis[a] and vis[b]:
            _flat_capsule(cv, kp[a, :2], kp[b, :2], r, colors[k], 0.6)
    return N.to_uint8(cv.rgb)


def _flat_disc(cv: _Canvas, c, r, color, opacity):
    box = cv._box(c[0] - r - 1, c[1] - r - 1, c[0] + r + 1, c[1] + r + 1)
    if box is None:
        return
    sl, X, Y = box
    d = np.sqrt((X - c[0]) ** 2 + (Y - c[1]) ** 2)
    a = np.clip(r - d + 0.5, 0, 1) * opacity
    cv.rgb[sl] = cv.rgb[sl] + (np.asarray(color) - cv.rgb[sl]) * a[..., None]


def _flat_capsule(cv: _Canvas, p0, p1, r, color, opacity):
    (x0, y0), (x1, y1) = p0, p1
    box = cv._box(min(x0, x1) - r - 1, min(y0, y1) - r - 1, max(x0, x1) + r + 1, max(y0, y1) + r + 1)
    if box is None:
        return
    sl, X, Y = box
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((X - x0) * dx + (Y - y0) * dy) / (dx * dx + dy * dy + 1e-9), 0, 1)
    px, py = X - (x0 + t * dx), Y - (y0 + t * dy)
    a = np.clip(r - np.sqrt(px * px + py * py) + 0.5, 0, 1) * opacity
    cv.rgb[sl] = cv.rgb[sl] + (np.asarray(color) - cv.rgb[sl]) * a[..., None]


def _as_keypoints(keypoints) -> np.ndarray:
    """Validate keypoints: (18, 2) or (18, 3) array-like, or a flat list of 36/54 numbers."""
    if isinstance(keypoints, np.ndarray):
        arr = keypoints.astype(np.float64)
    else:
        rows = []
        for item in keypoints:
            if item is None:
                rows.append([np.nan, np.nan, 0.0])
            elif isinstance(item, (int, float)):
                rows = None
                break
            else:
                rows.append([float(v) for v in item] + ([1.0] if len(item) == 2 else []))
        arr = np.array(rows if rows is not None else [float(v) for v in keypoints], dtype=np.float64)
    if arr.ndim == 1 and arr.size in (36, 54):
        arr = arr.reshape(18, arr.size // 18)
    if arr.ndim != 2 or arr.shape[0] != 18 or arr.shape[1] not in (2, 3):
        raise ValueError(f"expected 18 keypoints of (x, y) or (x, y, visibility) in OpenPose order "
                         f"{KEYPOINT_NAMES}, got an array of shape {arr.shape}")
    if arr.shape[1] == 2:
        arr = np.concatenate([arr, np.ones((18, 1))], axis=1)
    return arr
