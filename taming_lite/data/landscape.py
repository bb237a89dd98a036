"""Procedural landscapes: one call gives an RGB image, its depth and its label map.

    sample = render(seed=3, height=128, width=192)
    sample.image   # (H, W, 3) uint8
    sample.depth   # (H, W) float32 in [0, 1], normalised disparity, near = 1, sky = 0
    sample.labels  # (H, W) uint8 COCO-Stuff ids (see labels.LANDSCAPE_CLASSES)

How it works (all vectorised numpy, float64, see noise.py for why it is portable):

1. *World.* A periodic fractal heightfield (smooth fBm for hills, ridged fBm for
   mountains that rise with distance), optionally a lake bowl, a tilted coast or a
   carved river, and a forest canopy that adds height where the forest mask is on.
2. *Visibility.* A pinhole camera looks along +z. For each image column we sample
   the terrain on D slices at geometrically spaced distances and project each
   sample to a screen row. Running the minimum of those rows front to back gives,
   per column, a non-increasing "occlusion horizon"; the slice a pixel sees is the
   first one whose horizon is above it, found for all pixels at once with one
   ``searchsorted``. The distance is then refined linearly between the two slices
   (exactly, for the flat water plane).
3. *Shading.* Per pixel: materials from height, slope and noise masks (snow line,
   tree line, rock on steep slopes, beaches near water), texture noise, a sun with
   Lambert shading and marched soft shadows, sky-coloured ambient light, water
   with a Fresnel mix of its body colour and a screen-space reflection mirrored
   about the shore line, and fog that grows with distance.
4. *Sky.* Gradient by time of day, a sun disk and glow, and clouds projected from a
   plane high above the camera (so they shrink towards the horizon).

Depth is ``DEPTH_SCALE / (DEPTH_SCALE + z)``: a disparity (monotone in 1/z),
1 at the camera, 0 at infinity and for the sky.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import noise as N
from .labels import LABEL_BY_NAME

DEPTH_SCALE = 1.0  # world units; depth = s / (s + z)
SCENES = ("mountains", "hills", "lake", "coast", "river", "plains")
TIMES = ("day", "golden", "dusk", "overcast")

_PERIOD = 16.0      # world units covered by the periodic noise grids
_HGRID = 128        # height grid resolution
_MGRID = 128        # material grid resolution
_Z_NEAR = 0.05
_NO_WATER = -1e9

ID = LABEL_BY_NAME  # name -> COCO-Stuff id

# albedo per material (sRGB-ish, 0..1)
_ALBEDO = {
    "grass": (0.26, 0.42, 0.13), "hill": (0.46, 0.50, 0.22), "tree": (0.10, 0.23, 0.08),
    "bush": (0.30, 0.36, 0.12), "dirt": (0.42, 0.31, 0.19), "sand": (0.82, 0.74, 0.52),
    "rock": (0.44, 0.42, 0.41), "mountain": (0.40, 0.35, 0.30), "snow": (0.93, 0.95, 1.0),
}

# time of day presets: zenith, horizon, sun colour, sun elevation range, cloud coverage range
_SKIES = {
    "day": dict(zenith=(0.22, 0.42, 0.82), horizon=(0.68, 0.80, 0.94), sun=(1.0, 0.96, 0.88),
                elev=(0.45, 1.2), cover=(0.50, 0.80), sun_strength=1.0),
    "golden": dict(zenith=(0.28, 0.40, 0.70), horizon=(0.98, 0.78, 0.52), sun=(1.0, 0.80, 0.52),
                   elev=(0.12, 0.30), cover=(0.55, 0.85), sun_strength=0.9),
    "dusk": dict(zenith=(0.16, 0.18, 0.40), horizon=(0.98, 0.52, 0.32), sun=(1.0, 0.55, 0.30),
                 elev=(0.02, 0.10), cover=(0.55, 0.85), sun_strength=0.65),
    "overcast": dict(zenith=(0.52, 0.55, 0.60), horizon=(0.74, 0.76, 0.79), sun=(0.85, 0.85, 0.85),
                     elev=(0.5, 1.0), cover=(0.15, 0.35), sun_strength=0.25),
}


@dataclass
class Landscape:
    image: np.ndarray   # (H, W, 3) uint8
    depth: np.ndarray   # (H, W) float32, disparity in [0, 1], near = 1, sky = 0
    labels: np.ndarray  # (H, W) uint8 COCO-Stuff ids
    info: dict = field(default_factory=dict)  # scene, time of day, camera ...


class _World:
    """The terrain of one scene: heights and material masks at world points (x, z)."""

    def __init__(self, rng: np.random.Generator, scene: str):
        self.scene = scene
        u = lambda a, b: N.uniform(rng, a, b)  # noqa: E731
        # height grids: smooth fBm (hills) and ridged fBm (mountains)
        self.hgrid = np.concatenate([
            N.fbm(rng, _HGRID, base_cells=4, octaves=6, gain=0.5),
            N.fbm(rng, _HGRID, base_cells=4, octaves=6, gain=0.5, ridged=True),
            N.fbm(rng, _HGRID, base_cells=12, octaves=4, gain=0.55),  # forest mask
        ], axis=2)
        # material grids: (unused), bush, dirt, variation / jitter; fine texture & blobs
        self.mgrid = N.fbm(rng, _MGRID, base_cells=8, octaves=4, gain=0.55, channels=4)
        self.tgrid = N.value_noise(rng, _MGRID, 64, channels=2)  # fine texture & blobs
        self.ox, self.oz = u(0, _PERIOD), u(0, _PERIOD)
        self.cps = _HGRID / _PERIOD
        self.mps = _MGRID / _PERIOD

        s = scene
        self.hill_amp = {"mountains": 0.9, "hills": 1.3, "lake": 0.9, "coast": 1.0,
                         "river": 1.1, "plains": 0.35}[s] * u(0.7, 1.3)
        self.mtn_amp = {"mountains": 8.0, "hills": 1.5, "lake": 6.0, "coast": 2.5,
                        "river": 2.5, "plains": 5.0}[s] * u(0.6, 1.3)
        self.mtn_start = {"mountains": 3.0, "hills": 8.0, "lake": 6.0, "coast": 6.0,
                          "river": 8.0, "plains": 12.0}[s] * u(0.7, 1.4)
        self.mtn_ramp = u(4.0, 12.0)
        self.water = _NO_WATER
        self.water_kind = None
        if s in ("lake", "coast", "river") or (s == "mountains" and rng.random() < 0.3):
            self.water = 0.0
            self.water_kind = {"coast": "sea", "river": "river"}.get(s, "water-other")
        # lake: an elliptical bowl in the middle distance
        self.lake = (u(-1.5, 1.5), u(2.0, 6.0), u(2.0, 5.0), u(1.5, 3.5)) if self.water_kind == "water-other" else None
        # coast: the land tilts down towards the sea on one side
        self.tilt = (u(0.25, 0.6) * (1 if rng.random() < 0.5 else -1), u(-1.5, 1.5)) if s == "coast" else None
        # river: a meandering channel along z
        if s == "river":
            self.river = (u(-0.6, 0.6), u(0.4, 1.2), u(0.15, 0.35), rng.random((32,)))
        else:
            self.river = None
        self.forest_level = u(0.5, 0.66)    # higher = less forest
        self.bush_level = u(0.55, 0.68)
        self.dirt_level = u(0.58, 0.72) if s != "plains" else u(0.5, 0.62)
        self.tree_h = u(0.05, 0.10)
        self.beach = u(0.03, 0.10) if self.water_kind in ("sea", "water-other") else 0.015
        self.hill_level = u(0.25, 0.55)
        self.tree_line = u(1.0, 1.8)
        self.snow_line = u(1.6, 2.8) if s in ("mountains", "lake", "plains") else u(2.2, 3.5)
        self.base = 0.25 if self.water != _NO_WATER else -0.5  # base ground level vs water

    # -- height ---------------------------------------------------------
    def ground(self, x: np.ndarray, z: np.ndarray) -> dict:
        """Terrain at world points: ground height, canopy height, masks."""
        zc = np.maximum(z, 0.0)
        g = N.sample_periodic(self.hgrid, (zc + self.oz) * self.cps, (x + self.ox) * self.cps)
        hills = g[..., 0] - 0.5
        ridge = g[..., 1]
        mtn_mask = N.smoothstep(self.mtn_start, self.mtn_start + self.mtn_ramp, zc)
        near = N.smoothstep(0.0, 2.5, zc)  # flatten what is right in front of the camera
        h = self.base + self.hill_amp * hills * (0.4 + 0.6 * near) + self.mtn_amp * mtn_mask * ridge * ridge
        river_mask = None
        if self.lake is not None:
            lx, lz, rx, rz = self.lake
            dx = (x - lx) / rx
            dz = (zc - lz) / rz
            bowl = np.clip(1.0 - (dx * dx + dz * dz), 0.0, 1.0)
            h = h - 1.2 * bowl * (2.0 - bowl)
        if self.tilt is not None:
            slope, off = self.tilt
            h = h + slope * (x - off) - 0.15
        if self.river is not None:
            cx, amp, width, knots = self.river
            # meander: piecewise-smooth curve from 32 random knots along z
            t = zc * 0.5
            i0 = np.floor(t).astype(np.int64)
            f = N._smooth(t - i0)
            k0 = knots[i0 % 32]
            k1 = knots[(i0 + 1) % 32]
            centre = cx + amp * (2.0 * (k0 + (k1 - k0) * f) - 1.0)
            d = np.abs(x - centre) / (width * (1.0 + 0.05 * zc))
            river_mask = np.clip(1.0 - d * d, 0.0, 1.0)
            bank = np.clip(1.0 - d * d / 9.0, 0.0, 1.0)
            h = h * (1.0 - 0.8 * bank) + (-0.05) * 0.8 * bank - 0.25 * river_mask
        forest = N.smoothstep(self.forest_level, self.forest_level + 0.06, g[..., 2])
        forest = forest * (1.0 - N.smoothstep(self.tree_line - 0.2, self.tree_line, h))
        if self.water != _NO_WATER:
            forest = forest * N.smoothstep(self.water + self.beach, self.water + self.beach + 0.06, h)
        return dict(h=h, forest=forest, river=river_mask)

    def surface(self, x: np.ndarray, z: np.ndarray, blobs: bool = True) -> tuple[np.ndarray, dict]:
        """Height including the tree canopy (what the camera and the sun see).

        ``blobs=False`` uses a smooth canopy (cheaper; for shadow rays).
        """
        t = self.ground(x, z)
        if not blobs:
            return t["h"] + self.tree_h * t["forest"], t
        blob = N.sample_periodic(self.tgrid, (z + self.oz) * self.mps * 8.0, (x + self.ox) * self.mps * 8.0)
        t["blob"] = blob
        canopy = self.tree_h * t["forest"] * (0.55 + 0.9 * blob[..., 1])
        return t["h"] + canopy, t


def _sky(rows: np.ndarray, cols: np.ndarray, cam: dict, sky: dict, world_clouds: np.ndarray):
    """Sky colour (…, 3) and cloud alpha (…) for continuous pixel coords (row, col)."""
    f, y0, cx = cam["f"], cam["y0"], cam["cx"]
    e = (y0 - rows) / f  # tan(elevation)
    ez = np.maximum(e, 0.0)
    t = np.clip(ez * 2.2, 0.0, 1.0)
    t = np.sqrt(t)
    zen = np.array(sky["zenith"])
    hor = np.array(sky["horizon"])
    col = hor + (zen - hor) * t[..., None]
    # sun glow and disk
    L = sky["L"]
    if L[2] > 0.05:
        sx = cx + f * L[0] / L[2]
        sy = y0 - f * L[1] / L[2]
        dx = (cols - sx) / f
        dy = (rows - sy) / f
        d2 = dx * dx + dy * dy
        sun = np.array(sky["sun"])
        glow = 0.35 / (1.0 + 60.0 * d2) + 0.25 / (1.0 + 6.0 * d2)
        col = col + glow[..., None] * sun * sky["sun_strength"] * sky["glow"]
        disk = N.smoothstep(0.0022, 0.0016, d2) * sky["sun_strength"]
        col = col + disk[..., None] * (1.2 - col)
    # clouds on a plane above the camera
    e_c = np.maximum(e, 0.012)
    zc = sky["cloud_h"] / e_c
    xc = (cols - cx) / f * zc
    n = N.sample_periodic(world_clouds, (zc + sky["cloud_off"][0]) * sky["cloud_scale"],
                          (xc * 0.7 + sky["cloud_off"][1]) * sky["cloud_scale"])
    fade = N.smoothstep(0.0, 0.08, e)
    dens = N.smoothstep(sky["cover"], sky["cover"] + 0.18, n[..., 0]) * fade
    light = 0.75 + 0.45 * n[..., 1]
    ccol = np.array(sky["cloud"]) * light[..., None]
    ccol = ccol + (hor - ccol) * (1.0 - N.smoothstep(0.0, 0.25, e))[..., None] * 0.5
    col = col + (ccol - col) * dens[..., None]
    return col, dens


def render(seed, height: int = 256, width: int = 256, *, scene: str | None = None,
           time_of_day: str | None = None) -> Landscape:
    """Render one landscape. ``seed`` is an int (or tuple of ints); same seed, same bytes.

    ``scene`` in SCENES and ``time_of_day`` in TIMES override the seeded choice.
    """
    H, W = int(height), int(width)
    if not (16 <= H <= 2048 and 16 <= W <= 2048):
        raise ValueError(f"size must be within 16..2048 px, got {H}x{W}")
    rng = N.make_rng(seed)
    scene = scene or N.choice(rng, SCENES, (3, 2, 2, 2, 2, 1))
    tod = time_of_day or N.choice(rng, TIMES, (5, 2, 1, 2))
    if scene not in SCENES or tod not in TIMES:
        raise ValueError(f"scene must be one of {SCENES}, time_of_day one of {TIMES}")
    world = _World(rng, scene)
    u = lambda a, b: N.uniform(rng, a, b)  # noqa: E731

    # ---- sky & sun -----------------------------------------------------
    preset = _SKIES[tod]
    sky = dict(preset)
    jit = lambda c, a: tuple(float(np.clip(v + u(-a, a), 0, 1)) for v in c)  # noqa: E731
    sky["zenith"] = jit(preset["zenith"], 0.05)
    sky["horizon"] = jit(preset["horizon"], 0.05)
    elev = u(*preset["elev"])
    az = u(-2.4, 2.4)  # sun azimuth relative to the view direction (0 = straight ahead)
    ce = N.cos(elev)
    L = np.array([ce * N.sin(az), N.sin(elev), ce * N.cos(az)])
    sky["L"] = L
    sky["glow"] = 1.0 if tod != "overcast" else 0.3
    sky["cover"] = u(*preset["cover"])
    sky["cloud_h"] = u(1.5, 3.0)
    sky["cloud_scale"] = u(0.5, 1.2) * 4.0
    sky["cloud_off"] = (u(0, 64), u(0, 64))
    base_cloud = (0.96, 0.96, 0.97) if tod != "overcast" else (0.80, 0.81, 0.83)
    sky["cloud"] = tuple(b * (0.7 + 0.3 * s) for b, s in zip(base_cloud, sky["sun"]))
    if tod in ("golden", "dusk"):
        sky["cloud"] = tuple(0.5 * a + 0.5 * b for a, b in zip(sky["cloud"], sky["horizon"]))
    clouds = N.fbm(rng, 64, base_cells=4, octaves=4, gain=0.5, channels=2)

    # ---- camera --------------------------------------------------------
    f = u(0.8, 1.25) * min(H, W) * (1.0 if H <= W else 1.3)
    y0 = H * u(0.30, 0.52)
    cx = W * 0.5
    probe_z = np.array([0.0, 0.3, 0.6, 1.0, 1.5])
    probe, _ = world.surface(np.zeros(5), probe_z)
    ground0 = max(float(probe.max()), world.water)
    eye = ground0 + u(0.12, 0.45)
    cam = dict(f=f, y0=y0, cx=cx, eye=eye)

    # ---- visibility: slice march + running-min horizon + searchsorted ----
    D = int(1.25 * H + 48)
    # geometric spacing without pow/exp: (1 + 7.1/D)^D ~ e^7.1, i.e. z_far ~ 60
    zs = _Z_NEAR * np.cumprod(np.full(D, 1.0 + 7.1 / D)) / (1.0 + 7.1 / D)
    colx = (np.arange(W) + 0.5 - cx) / f                 # (W,) lateral slope per column
    Xs = zs[:, None] * colx[None, :]                     # (D, W)
    Zs = np.broadcast_to(zs[:, None], (D, W))
    hs, _ = world.surface(Xs, Zs)
    hs = np.maximum(hs, world.water)
    proj = y0 + f * (eye - hs) / zs[:, None]             # screen row of each sample
    proj = np.clip(proj, -2.0, H + 2.0)
    horizon = np.minimum.accumulate(proj, axis=0)        # (D, W), non-increasing in d
    off = H + 8.0
    keys = (-horizon.T + off * np.arange(W)[:, None]).ravel()   # sorted: per column, then slice
    rows = np.arange(H) + 0.5
    q = (-rows[None, :] + off * np.arange(W)[:, None])            # (W, H)
    d = np.searchsorted(keys, q.ravel(), side="left").reshape(W, H) - (np.arange(W) * D)[:, None]
    d = d.T                                                       # (H, W) slice index, D = sky
    is_sky = d >= D
    land = ~is_sky
    R = np.broadcast_to(rows[:, None], (H, W))
    C = np.broadcast_to(np.arange(W)[None, :] + 0.5, (H, W))

    # refine distance between slices d-1 and d
    dl = np.clip(d, 1, D - 1)
    ci = np.broadcast_to(np.arange(W)[None, :], (H, W))
    p0 = proj[dl - 1, ci]
    p1 = proj[dl, ci]
    t = np.clip((p0 - R) / np.maximum(p0 - p1, 1e-9), 0.0, 1.0)
    z = zs[dl - 1] + (zs[dl] - zs[dl - 1]) * t
    z = np.where(d == 0, zs[0], z)

    # per-pixel terrain
    zl = z[land]
    xl = zl * colx[np.broadcast_to(np.arange(W)[None, :], (H, W))[land]]
    hsurf, ter = world.surface(xl, zl)
    water = hsurf < world.water
    # exact flat water: distance from the water plane
    Rl = R[land]
    wz = f * (eye - world.water) / np.maximum(Rl - y0, 1e-6)
    zl = np.where(water, wz, zl)
    xl = np.where(water, wz * colx[np.broadcast_to(np.arange(W)[None, :], (H, W))[land]], xl)
    z = z.copy()
    z[land] = zl
    if water.any():
        ter_w = world.ground(xl[water], zl[water])
        for k in ("h", "forest"):
            ter[k][water] = ter_w[k]
        if ter["river"] is not None:
            ter["river"][water] = ter_w["river"]

    # normals by finite differences of the surface (with canopy)
    eps = 0.5 / world.cps
    hx, _ = world.surface(xl + eps, zl)
    hz, _ = world.surface(xl, zl + eps)
    gx = (hx - hsurf) / eps
    gz = (hz - hsurf) / eps
    gx = np.where(water, 0.0, gx)
    gz = np.where(water, 0.0, gz)
    nlen = np.sqrt(gx * gx + gz * gz + 1.0)
    slope = np.sqrt(gx * gx + gz * gz)
    ndotl = (-gx * L[0] + L[1] - gz * L[2]) / nlen
    diffuse = np.maximum(ndotl, 0.0)

    # ---- materials -----------------------------------------------------
    hg = ter["h"]
    m = N.sample_periodic(world.mgrid, (zl + world.oz) * world.mps, (xl + world.ox) * world.mps)
    blob = ter["blob"]
    tex = N.sample_periodic(world.tgrid, (zl + world.oz) * world.mps * 24.0, (xl + world.ox) * world.mps * 24.0)
    lab = np.full(hg.shape, ID["grass"], dtype=np.uint8)
    hill = hg > world.hill_level + 0.3 * (m[..., 3] - 0.5)
    lab[hill] = ID["hill"]
    lab[m[..., 2] > world.dirt_level] = ID["dirt"]
    lab[(m[..., 1] > world.bush_level) & (ter["forest"] < 0.5)] = ID["bush"]
    lab[ter["forest"] >= 0.5] = ID["tree"]
    alpine = hg > world.tree_line + 0.4 * (m[..., 3] - 0.5)
    lab[alpine & (ter["forest"] < 0.5)] = ID["mountain"]
    lab[slope > 1.1 + 0.6 * m[..., 3]] = ID["rock"]
    snow = (hg > world.snow_line + 0.5 * (m[..., 3] - 0.5) + 0.35 * slope) & (slope < 2.2)
    lab[snow] = ID["snow"]
    if world.water != _NO_WATER:
        beach = (hg < world.water + world.beach + 0.04 * (m[..., 1] - 0.5)) & (slope < 0.8)
        lab[beach & ~water] = ID["sand"]
        wk = world.water_kind
        lab[water] = ID[wk]
        if wk == "river":
            # pools that are not the channel are lakes
            lab[water & (ter["river"] < 0.02)] = ID["water-other"]

    # ---- colours -------------------------------------------------------
    albedo = np.zeros(hg.shape + (3,))
    for name, rgb in _ALBEDO.items():
        sel = lab == ID[name]
        if sel.any():
            albedo[sel] = rgb
    # gentle per-scene tint and large-scale colour variation
    tint = np.array([u(0.92, 1.08), u(0.92, 1.08), u(0.92, 1.08)])
    var = 0.85 + 0.3 * m[..., 3:4]
    fine = tex[..., 0:1]
    texture_amp = 0.5 / (1.0 + 0.5 * zl)[..., None]
    albedo = albedo * tint * var * (1.0 + texture_amp * (fine - 0.5))
    is_tree = (lab == ID["tree"])[..., None]
    albedo = np.where(is_tree, albedo * (0.55 + 0.9 * blob[..., 1:2]), albedo)
    albedo = np.where((lab == ID["rock"])[..., None], albedo * (0.7 + 0.6 * tex[..., 1:2]), albedo)

    # soft shadows: march towards the sun over the heightfield
    shadow = np.ones_like(hsurf)
    if L[1] > 0.0:
        lh = np.sqrt(L[0] * L[0] + L[2] * L[2]) + 1e-9
        dirx, dirz, rise = L[0] / lh, L[2] / lh, L[1] / lh
        step = 0.04
        for _ in range(5):
            hk, _ = world.surface(xl + dirx * step, zl + dirz * step, blobs=False)
            above = hk - (hsurf + rise * step)
            shadow = np.minimum(shadow, np.clip(1.0 - above * 12.0 / (1.0 + step), 0.0, 1.0))
            step *= 2.4
    sun_col = np.array(sky["sun"]) * sky["sun_strength"]
    amb = 0.35 * np.array(sky["zenith"]) + 0.3 * np.array(sky["horizon"])
    if tod == "overcast":
        amb = amb * 1.5
    light = amb + sun_col * (diffuse * shadow)[..., None] * 1.1
    col_land = albedo * light
    snow_sel = (lab == ID["snow"])[..., None]
    col_land = np.where(snow_sel, np.minimum(col_land * 1.05, 1.0), col_land)

    # ---- sky over the whole frame (used for sky pixels, reflections and fog) ----
    sky_rgb, cloud_alpha = _sky(R, C, cam, sky, clouds)
    image = sky_rgb.copy()
    fog_col = np.array(sky["horizon"])
    if L[2] > 0.05:  # fog glows towards the sun
        fog_col = fog_col + 0.15 * np.array(sky["sun"]) * sky["glow"]
    fog_density = u(0.02, 0.08) * (2.0 if tod == "overcast" else 1.0)
    a = 1.0 / (1.0 + fog_density * zl)
    fog = (1.0 - a * a)[..., None]

    # non-water land first (water reflects it)
    land_idx = np.nonzero(land)
    col_fogged = col_land + (fog_col - col_land) * fog
    tmp = image.copy()
    tmp[land_idx[0][~water], land_idx[1][~water]] = col_fogged[~water]

    if water.any():
        wmask = np.zeros((H, W), bool)
        wmask[land_idx[0][water], land_idx[1][water]] = True
        ridx = np.arange(H)[:, None] * np.ones((1, W), np.int64)
        last = np.maximum.accumulate(np.where(~wmask, ridx, -1), axis=0)  # last non-water row above
        wr, wc = land_idx[0][water], land_idx[1][water]
        Lrow = last[wr, wc]
        ripple = (blob[water, 0] - 0.5) * 6.0 * (1.0 + (wr - Lrow) * 0.08)
        rr = np.floor(2 * Lrow + 1 - wr + ripple).astype(np.int64)
        rr = np.minimum(rr, Lrow)
        refl = _sky(rr + 0.5, wc + 0.5, cam, sky, clouds)[0]
        inside = rr >= 0
        refl[inside] = tmp[rr[inside], wc[inside]]
        s = (wr + 0.5 - y0) / f
        cosv = s / np.sqrt(1.0 + s * s)
        k = 1.0 - cosv
        k2 = k * k
        fres = (0.08 + 0.92 * k2 * k2 * k)[..., None]
        body = {"sea": (0.05, 0.16, 0.24), "river": (0.10, 0.20, 0.20),
                "water-other": (0.06, 0.17, 0.20)}[world.water_kind]
        body = np.array(body) * (amb + sun_col * 0.5 * L[1])
        wave = 1.0 + 0.25 * (tex[water, 0:1] - 0.5)
        wcol = body + (refl * 0.9 - body) * np.clip(fres * 1.4, 0, 1) * wave
        # sun glint
        if L[2] > 0.05 and tod != "overcast":
            sxs = cx + f * L[0] / L[2]
            g = np.clip(1.0 - np.abs(wc + 0.5 - sxs) / (0.08 * f + 0.4 * (wr + 0.5 - y0)), 0, 1)
            g = g * (tex[water, 1] > 0.6)
            wcol = wcol + (g * 0.8)[..., None] * np.array(sky["sun"])
        col_land[water] = wcol
        col_fogged = col_land + (fog_col - col_land) * fog

    image[land_idx] = col_fogged

    # ---- labels & depth over the frame -----------------------------------
    labels = np.where(cloud_alpha > 0.5, ID["clouds"], ID["sky-other"]).astype(np.uint8)
    labels[land_idx] = lab
    depth = np.zeros((H, W))
    depth[land] = DEPTH_SCALE / (DEPTH_SCALE + z[land])

    info = dict(seed=seed, scene=scene, time_of_day=tod, water=world.water_kind,
                horizon_row=float(y0), focal=float(f), eye=float(eye))
    return Landscape(image=N.to_uint8(image), depth=depth.astype(np.float32), labels=labels, info=info)
