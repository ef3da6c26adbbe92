"""The held-out folds of a calibration spread each family over distinct folds."""

import numpy as np
import pytest

from edgespace.calibration._folds import family_folds


@pytest.mark.parametrize(
    "families",
    [
        [f for f in "abcdefgh" for _ in range(2)],  # a 16-network design: two per family
        ["a"] * 7 + ["b"] * 3 + ["c"],
        list("aabbbcccccdddddddddd"),
    ],
)
def test_no_fold_holds_out_every_network_of_a_family_that_has_two(families):
    folds = family_folds(families)
    fam = np.array(families)
    every = np.sort(np.concatenate(folds))
    assert every.tolist() == list(range(len(families)))  # a partition
    for fold in folds:
        held = fam[fold]
        for name in set(families):
            if (fam == name).sum() >= 2:
                assert (held == name).sum() < (fam == name).sum(), (name, fold)
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 1


def test_the_folds_are_the_same_on_every_call_and_change_with_the_seed():
    fam = [f for f in "abcdefgh" for _ in range(3)]
    assert [f.tolist() for f in family_folds(fam)] == [f.tolist() for f in family_folds(fam)]
    assert [f.tolist() for f in family_folds(fam, seed=1)] != [f.tolist() for f in family_folds(fam)]
