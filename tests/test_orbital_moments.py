"""Orbital (s + p) moments see bond angles; s-only moments do not."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from tinynet import descriptors
from tinynet.potential_file import block_sizes


def bent_trimer(angle_deg, bond=2.35):
    """Centre atom 0 with two neighbours at `bond`; the neighbours are not bonded to each other."""
    a = np.radians(angle_deg)
    return Atoms("Si3", positions=[[0, 0, 0], [bond, 0, 0], [bond * np.cos(a), bond * np.sin(a), 0]])


def centre_features(orbitals, angle):
    block = {"type": "moments", "n_max": 4, "bond_cutoff": 2.9, "r0": 2.35, "decay_lengths": [1.0]}
    if orbitals == "sp":
        block["orbitals"] = "sp"
    # bond cutoff 2.9 A: at these angles the two neighbours are >= 3.3 A apart
    return descriptors.compute(bent_trimer(angle), {"blocks": [block]}, ["Si"], jacobian=False)["features"][0]


def test_p_trace_of_fourth_moment_sees_the_bond_angle():
    # feature order (n, channel, [s diagonal, p trace], species): n = 4 is the third n
    n4_s, n4_p = 4, 5
    assert block_sizes({"blocks": [{"type": "moments", "orbitals": "sp", "n_max": 4, "bond_cutoff": 2.9,
                                     "r0": 2.35, "decay_lengths": [1.0]}]}, 1) == [6]
    angles = (90.0, 109.47, 120.0, 150.0)
    sp = np.array([centre_features("sp", a) for a in angles])
    s_only = np.array([centre_features("s", a) for a in angles])
    # s-only moments: identical for every angle (paths only see bond lengths)
    assert np.ptp(s_only, axis=0).max() <= 1e-14 * np.abs(s_only).max()
    # p trace of mu_4 contains (l_1 . l_2)^2: it changes with the angle ...
    p4 = sp[:, n4_p]
    assert np.ptp(p4) > 1e-3 * np.abs(p4).max()
    assert np.all(np.diff(p4) != 0)
    # the second moments (single bonds) stay angle-blind in both kinds
    assert np.ptp(sp[:, 0]) <= 1e-14 * abs(sp[0, 0])
    assert np.ptp(sp[:, 1]) <= 1e-14 * abs(sp[0, 1])
    # the s diagonal of mu_4 also sees the angle through s-p-s paths
    assert np.ptp(sp[:, n4_s]) > 0
