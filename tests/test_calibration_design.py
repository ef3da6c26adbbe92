"""How a calibration chooses its networks: the corners of the ranges, then a max-min design over
the latency model's own features (real layer tables; nothing is measured here)."""

from __future__ import annotations

import numpy as np
import pytest

import edgespace as es
from edgespace._errors import SpecError
from edgespace.calibration import draw_specs
from edgespace.calibration._design import FEATURE_NAMES, design_features
from edgespace.cli import main

FAMS = ("efficientnet", "mobilenetv2", "mobilenetv3_small", "mobilenetv3_large")


def _min_distance(specs) -> float:
    """Smallest distance between two networks of a family, features scaled by a fixed reference
    set (so that the designs compared share one scale)."""
    ref = np.array([design_features(s) for s in draw_specs(80, families=FAMS, seed=99)])
    mu, sd = ref.mean(axis=0), np.where(ref.std(axis=0) > 0, ref.std(axis=0), 1.0)
    out = np.inf
    for fam in FAMS:
        z = np.array([(design_features(s) - mu) / sd for s in specs if s.family == fam])
        d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=-1))
        out = min(out, d[np.triu_indices(len(z), 1)].min())
    return float(out)


def test_design_features_follow_the_network():
    small = design_features(es.ArchSpec("mobilenetv2", 0.35, 0.5, 96))
    big = design_features(es.ArchSpec("mobilenetv2", 1.3, 1.4, 256))
    assert small.shape == big.shape == (len(FEATURE_NAMES),)
    i = FEATURE_NAMES.index("log_macs_depthwise")
    assert big[i] > small[i] and big[FEATURE_NAMES.index("log_resolution")] == pytest.approx(np.log(256))
    share = FEATURE_NAMES.index("depthwise_share")
    assert 0 < small[share] < 1


def test_spread_design_has_the_corners_is_seeded_and_distinct():
    specs = draw_specs(16, families=FAMS, seed=0, design="spread")
    assert len(specs) == len(set(specs)) == 16
    assert [s.family for s in specs[:4]] == list(FAMS)  # families in turn
    for fam in FAMS:
        mine = [s for s in specs if s.family == fam]
        assert len(mine) == 4
        assert es.ArchSpec(fam, 0.35, 0.5, 96) in mine and es.ArchSpec(fam, 1.3, 1.4, 256) in mine
    assert draw_specs(16, families=FAMS, seed=0, design="spread") == specs
    assert draw_specs(16, families=FAMS, seed=1, design="spread") != specs


def test_spread_design_spreads_wider_than_random_or_latin_hypercube_draws():
    def median_gap(design):
        return np.median([_min_distance(draw_specs(24, families=FAMS, seed=s, design=design)) for s in range(3)])

    spread, lhs, rnd = median_gap("spread"), median_gap("lhs"), median_gap("random")
    assert spread > 1.3 * lhs and spread > 1.3 * rnd, (spread, lhs, rnd)


def test_spread_design_skips_what_is_excluded_and_takes_odd_counts():
    corner = es.ArchSpec("mobilenetv2", 0.35, 0.5, 96)
    specs = draw_specs(5, families=("mobilenetv2", "efficientnet"), seed=0, design="spread", exclude=[corner])
    assert len(specs) == len(set(specs)) == 5 and corner not in specs
    assert es.ArchSpec("mobilenetv2", 1.3, 1.4, 256) in specs
    one = draw_specs(1, families=("mobilenetv2",), seed=0, design="spread")
    assert len(one) == 1 and one[0] not in (corner, es.ArchSpec("mobilenetv2", 1.3, 1.4, 256))


def test_unknown_design_is_refused_naming_the_choices(capsys):
    with pytest.raises(SpecError, match="design='best'.*spread, lhs, random"):
        draw_specs(4, design="best")
    assert main(["calibrate", "--design", "best", "--samples", "3"]) == 2
    assert "spread" in capsys.readouterr().err
