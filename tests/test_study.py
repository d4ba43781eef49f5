"""The descriptor study (tinynet.study): every variant is a valid descriptor
and trains for real on a small slice; the report (table, Pareto front, plot)
is produced, and the MD-cost path runs LAMMPS with Tersoff beside it."""

from __future__ import annotations

import json

import ase.io
import pytest

from test_training import make_emt_frames
from tinynet import study
from tinynet.blocks import check_block
from tinynet.bond_lengths import BondScales, PairShell

PLAN = json.loads((study.Path(__file__).resolve().parents[1] / "benchmarks" / "descriptor_study.json").read_text())


SI = BondScales.uniform(2.35, ["Si"])
# SrTiO3-like: two bonded pairs of different lengths, four pairs that are not bonds
PEROVSKITE = BondScales(["Sr", "Ti", "O"], {
    "Sr-Sr": PairShell(3.9, 4.7, False), "Sr-Ti": PairShell(3.4, 4.4, False),
    "Sr-O": PairShell(2.76, 3.8, True), "Ti-Ti": PairShell(3.9, 4.7, False),
    "Ti-O": PairShell(1.95, 3.2, True), "O-O": PairShell(2.76, 3.4, False)})


@pytest.mark.parametrize("scales", [SI, PEROVSKITE], ids=["Si", "SrTiO3"])
def test_every_variant_is_a_valid_descriptor(scales):
    elements = scales.elements
    for name in PLAN["variants"]:
        descriptor = study.variant_descriptor(name, scales, len(elements))
        for k, block in enumerate(descriptor["blocks"]):
            check_block("study", f"{name}.blocks[{k}]", block, elements)
    with pytest.raises(ValueError, match="unknown study variant"):
        study.variant_descriptor("soap", SI, 1)


def test_pareto_front():
    # (cost, error): the second point is dominated by the first
    assert study.pareto_front([(1.0, 0.1), (2.0, 0.2), (3.0, 0.05), (0.5, 0.3)]) == [3, 0, 2]


def test_every_variant_trains_on_a_slice(tmp_path, monkeypatch):
    ase.io.write(tmp_path / "train.extxyz", make_emt_frames(8, seed=1), format="extxyz")
    ase.io.write(tmp_path / "test.extxyz", make_emt_frames(3, seed=2), format="extxyz")
    plan = {"minutes": 1.0, "epochs": 3, "seed": 0, "variants": PLAN["variants"],
            "datasets": {"CuAl": {"train": ["train.extxyz"], "test": ["test.extxyz"], "elements": ["Cu", "Al"]}}}
    results = study.run_plan(plan, tmp_path / "out", tmp_path, log=lambda *a: None)
    rows = results["datasets"]["CuAl"]
    assert [r["variant"] for r in rows] == PLAN["variants"]
    for r in rows:
        assert r["n_features"] > 0 and r["energy_mae"] >= 0 and r["force_mae"] >= 0
    table = (tmp_path / "out" / "table.md").read_text()
    assert all(f"| {name} |" in table for name in PLAN["variants"])

    # --remeasure-cost: the trained variants are timed again, nothing is retrained
    calls = []

    def fake_md_cost(potential, elements, lattice, n_atoms, repeats, workdir):
        calls.append(potential.name)
        return 3.0, 1.5

    monkeypatch.setattr(study, "md_cost", fake_md_cost)
    monkeypatch.setattr(study, "train_variant", lambda *a, **k: pytest.fail("retrained"))
    again = study.run_plan({**plan, "variants": ["radial", "eann"], "md_atoms": 40}, tmp_path / "out", tmp_path,
                           log=lambda *a: None, remeasure_cost=True)
    assert calls == ["radial.tinynet", "eann.tinynet"]
    assert [r["variant"] for r in again["datasets"]["CuAl"]] == PLAN["variants"]    # the other rows stay
    assert all(r["x_tersoff"] == 2.0 for r in again["datasets"]["CuAl"] if r["variant"] in ("radial", "eann"))


def test_md_cost_and_plot(tmp_path):
    from conftest import DESCRIPTOR_SI_COMPACT, write_random_potential

    pot = write_random_potential(tmp_path / "si.tinynet", ["Si"], DESCRIPTOR_SI_COMPACT)
    us, tersoff = study.md_cost(pot.resolve(), ["Si"], 5.431, 64, 1, tmp_path)
    assert us > 0 and tersoff > 0
    rows = [{"variant": "a", "n_features": 14, "us_per_atom_step": us, "force_mae": 0.2},
            {"variant": "b", "n_features": 20, "us_per_atom_step": 2 * us, "force_mae": 0.1}]
    study.plot_dataset("Si", rows, {"tersoff_us": tersoff, "force_mae_lines": {"MTP": 0.06},
                                    "cost_lines_x_tersoff": {"SNAP": 143}}, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
