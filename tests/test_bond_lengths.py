"""Per-pair bond lengths from the pair-distance distribution (tinynet.bond_lengths)
and the presets built on them: a covalent crystal, a perovskite with bonds of
two lengths, and a molecular liquid whose bonds are far shorter than the
distance to the next molecule."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from tinynet.bond_lengths import BondScales, first_shell, pair_distance_shells
from tinynet.presets import make_preset


def rattled(atoms, n, sigma, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        a = atoms.copy()
        a.positions += rng.normal(0.0, sigma, a.positions.shape)
        out.append(a)
    return out


def perovskite(a=3.905):
    cell = Atoms("SrTiO3", scaled_positions=[(0, 0, 0), (.5, .5, .5), (.5, .5, 0), (.5, 0, .5), (0, .5, .5)],
                 cell=[a, a, a], pbc=True)
    return cell.repeat(3)


def water_box(n=4, spacing=3.1, seed=0):
    """n^3 rigid H2O molecules, randomly oriented, on a cubic grid (liquid density)."""
    rng = np.random.default_rng(seed)
    r_oh, angle = 0.96, np.radians(104.5)
    local = np.array([[0, 0, 0], [r_oh, 0, 0], [r_oh * np.cos(angle), r_oh * np.sin(angle), 0]])
    symbols, positions = [], []
    for idx in np.ndindex(n, n, n):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        positions += list(np.array(idx) * spacing + local @ q.T)
        symbols += ["O", "H", "H"]
    return Atoms(symbols, positions=positions, cell=[n * spacing] * 3, pbc=True)


def test_first_shell_of_a_crystal_is_the_middle_of_the_gap():
    frames = rattled(bulk("Si", "diamond", a=5.431, cubic=True).repeat(2), 10, 0.03, 0)
    scales = pair_distance_shells(frames)
    shell = scales.pairs["Si-Si"]
    assert shell.bonded and abs(shell.peak - 2.352) < 0.03
    assert 2.9 < shell.minimum < 3.3          # between the 1st (2.35) and 2nd (3.84) shell
    assert first_shell([2.35] * 5) is None    # too few distances to tell


def test_perovskite_bonds_are_ti_o_and_sr_o_only():
    scales = pair_distance_shells(rattled(perovskite(), 6, 0.04, 1), ["Sr", "Ti", "O"])
    bonded = scales.bonded()
    assert sorted(bonded) == ["Sr-O", "Ti-O"]
    assert abs(bonded["Ti-O"].peak - 1.95) < 0.05 and abs(bonded["Sr-O"].peak - 2.76) < 0.05
    assert bonded["Ti-O"].minimum < bonded["Sr-O"].minimum
    desc = make_preset("L4(2)", scales)
    moments, eann = desc["blocks"]
    cut, r0 = moments["bond_cutoff"], moments["r0"]
    assert cut["Ti-O"] < cut["Sr-O"] and cut["Sr-Ti"] == 0.0 and cut["O-O"] == 0.0
    assert r0["Ti-O"] == bonded["Ti-O"].peak
    assert eann["cutoff"] >= 5.0              # past the 2nd shell of the longest bond (Sr-O)


def test_molecular_liquid_sees_its_neighbouring_molecules():
    frames = [water_box(seed=s) for s in range(4)]
    scales = pair_distance_shells(frames, ["O", "H"])
    assert sorted(scales.bonded()) == ["O-H"]
    oh = scales.pairs["O-H"]
    assert abs(oh.peak - 0.96) < 0.03 and 1.1 < oh.minimum < 2.0    # before the next molecule
    for preset in ("L4(2)", "L6(4)"):
        moments, eann = make_preset(preset, scales)["blocks"]
        assert moments["bond_cutoff"]["O-O"] == 0.0 and moments["bond_cutoff"]["H-H"] == 0.0
        # one length scaled from the 0.96 A bond would give ~1.8 A: no neighbouring molecule
        assert eann["cutoff"] >= 5.0 > 3.1 * 1.5


def test_one_number_still_makes_a_preset():
    assert make_preset("L4(2)", 2.35) == make_preset("L4(2)", BondScales.uniform(2.35))
    with pytest.raises(Exception, match="nearest-neighbour"):
        make_preset("L4(2)", float("nan"))
