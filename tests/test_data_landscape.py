"""Procedural landscapes: shapes, determinism, alignment of image / depth / labels, statistics."""
from pathlib import Path

import numpy as np
import pytest

from taming_lite.data import LABEL_BY_NAME, LABEL_IDS, render_landscape
from taming_lite.data.landscape import SCENES, TIMES

GOLDEN = Path(__file__).parent / "data" / "data_golden.npz"
SKY = (LABEL_BY_NAME["sky-other"], LABEL_BY_NAME["clouds"])
WATER = (LABEL_BY_NAME["sea"], LABEL_BY_NAME["river"], LABEL_BY_NAME["water-other"])


@pytest.mark.parametrize("hw", [(64, 64), (64, 160), (160, 64), (96, 72)])
def test_shapes_and_ranges(hw):
    s = render_landscape(3, *hw)
    assert s.image.shape == hw + (3,) and s.image.dtype == np.uint8
    assert s.depth.shape == hw and s.depth.dtype == np.float32
    assert s.labels.shape == hw and s.labels.dtype == np.uint8
    assert np.isfinite(s.depth).all() and s.depth.min() >= 0 and s.depth.max() <= 1
    assert np.isin(s.labels, LABEL_IDS).all()


def test_deterministic_and_seed_dependent():
    a, b, c = render_landscape(11, 64, 64), render_landscape(11, 64, 64), render_landscape(12, 64, 64)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.depth, b.depth)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.image, c.image)
    t = render_landscape((5, 2), 64, 64)  # tuple seeds, as the datasets use
    assert np.array_equal(t.image, render_landscape((5, 2), 64, 64).image)


def test_golden_render_is_bit_identical():
    """Renders use only IEEE-exact float ops (see noise.py), so bytes match on every machine."""
    g = np.load(GOLDEN)
    s = render_landscape(7, 64, 80)
    d16 = np.floor(s.depth.astype(np.float64) * 65535 + 0.5).astype(np.uint16)
    diff = int((s.image != g["land_image"]).any(-1).sum())
    assert diff == 0, f"{diff} pixels differ from the golden render: a non-portable op crept in"
    assert np.array_equal(s.labels, g["land_labels"])
    assert np.array_equal(d16, g["land_depth"])


def test_sky_is_farthest_and_only_sky_has_zero_depth():
    for seed in range(6):
        s = render_landscape(seed, 64, 96)
        sky = np.isin(s.labels, SKY)
        assert (s.depth[sky] == 0).all()
        assert (s.depth[~sky] > 0).all()
        # along a column, once below the sky, depth never goes back to 0 ... and near pixels are the
        # bottom rows: the bottom row is nearer than any sky pixel above it
        assert (s.depth[-1] > 0).all() or sky[-1].any()


def test_water_is_a_flat_plane():
    """On a flat plane seen by a level pinhole camera the distance depends only on the row."""
    found = 0
    for seed in range(40):
        s = render_landscape(seed, 64, 96)
        water = np.isin(s.labels, WATER)
        if water.sum() < 50:
            continue
        found += 1
        for r in np.nonzero(water.any(1))[0]:
            d = s.depth[r][water[r]]
            assert d.max() - d.min() < 1e-6
        # farther rows (higher up) are farther away
        rows = np.nonzero(water.any(1))[0]
        per_row = np.array([s.depth[r][water[r]][0] for r in rows])
        assert (np.diff(per_row) > 0).all()
        if found >= 4:
            break
    assert found >= 4


def test_forced_scene_and_time():
    for sc in SCENES:
        assert render_landscape(1, 64, 64, scene=sc).info["scene"] == sc
    for t in TIMES:
        assert render_landscape(1, 64, 64, time_of_day=t).info["time_of_day"] == t
    with pytest.raises(ValueError):
        render_landscape(1, 64, 64, scene="moon")
    with pytest.raises(ValueError):
        render_landscape(1, 4, 64)


def test_statistics_over_200_seeds():
    counts = {int(i): 0 for i in LABEL_IDS}
    present = {int(i): 0 for i in LABEL_IDS}
    total = 0
    for seed in range(200):
        s = render_landscape(seed, 48, 48)
        assert np.isfinite(s.depth).all()
        assert s.image.std() > 5, f"seed {seed} renders a near-constant image"
        ids, n = np.unique(s.labels, return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist()):
            counts[i] += c
            present[i] += 1
        total += s.labels.size
    freq = {LABEL_IDS.tolist().index(k): v / total for k, v in counts.items()}
    names = {int(i): n for n, i in LABEL_BY_NAME.items()}
    for i, c in present.items():
        assert c >= 3, f"class {names[i]} appears in only {c} of 200 renders"
    sky = (counts[LABEL_BY_NAME["sky-other"]] + counts[LABEL_BY_NAME["clouds"]]) / total
    assert 0.2 < sky < 0.75, sky
    assert max(freq.values()) < 0.5
