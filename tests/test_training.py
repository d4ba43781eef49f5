"""The trainer: a short real fit, TF/NumPy/finite-difference consistency,
checkpoint/resume, presets and strict configuration.

Data: small Cu/Al fcc cells, rattled and strained, labelled with ASE's EMT
(energy, forces, stress).  Runs are a few epochs: they test the machinery,
not the accuracy.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from tinynet.data import DataError, load_files  # noqa: E402
from tinynet.presets import (ConfigError, make_preset, validate_config,  # noqa: E402
                             validate_descriptor)

SMALL_DESCRIPTOR = {
    "blocks": [
        {"type": "moments", "n_max": 3, "bond_cutoff": 3.2, "r0": 2.6, "decay_lengths": [0.5, 1.0]},
        {"type": "radial", "cutoff": 4.2, "centers": [2.2, 2.7, 3.2, 3.7], "alpha": 2.0},
    ]
}


def make_emt_frames(n=12, seed=0, elements=("Cu", "Al")):
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))  # 8 atoms
        symbols = [elements[0]] * len(atoms)
        if len(elements) > 1:
            for i in rng.choice(len(atoms), size=1 + k % 3, replace=False):
                symbols[i] = elements[1]
        atoms.set_chemical_symbols(symbols)
        strain = np.eye(3) + rng.normal(0, 0.015, (3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        atoms.calc = EMT()
        e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
        atoms.calc = SinglePointCalculator(atoms, energy=e, forces=f, stress=s)
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def emt_file(tmp_path_factory):
    import ase.io

    path = tmp_path_factory.mktemp("data") / "cual.extxyz"
    ase.io.write(path, make_emt_frames(14), format="extxyz")
    return path


def small_config(**training):
    t = {"epochs": 12, "checkpoint_every": 4, "learning_rate": 0.01, "patience": 0,
         "validation_fraction": 0.2, "test_fraction": 0.2}
    t.update(training)
    return validate_config({"descriptor": SMALL_DESCRIPTOR, "network": {"hidden": [8, 8]},
                            "loss": {"stress_weight": 0.01}, "training": t})


@pytest.fixture(scope="module")
def trained(emt_file, tmp_path_factory):
    from tinynet.training import train

    out = tmp_path_factory.mktemp("fit") / "CuAl.tinynet"
    res = train([str(emt_file)], str(out), config=small_config(epochs=30, batch_size=5),
                progress=False, log=lambda *a: None)
    return res


def test_short_training_run(trained):
    from tinynet.potential_file import read_potential

    res = trained
    assert res.epochs_run == 30 and 1 <= res.best_epoch <= 30
    for path in res.files.values():
        assert open(path, "rb").read(4)
    pot = read_potential(res.output)
    assert pot["elements"] == ["Al", "Cu"]
    assert pot["descriptor"] == SMALL_DESCRIPTOR
    prov = pot["provenance"]
    assert prov["train_files"][0]["sha256"] and len(prov["train_files"][0]["sha256"]) == 64
    assert prov["split"]["n_test"] == 3 and prov["split"]["n_train"] + prov["split"]["n_validation"] == 11
    assert set(prov["errors"]) == {"train", "validation", "test"}
    assert prov["version"] and prov["created"]
    for m in pot["models"].values():
        assert [len(l["bias"]) for l in m["layers"]] == [8, 8, 1]
        assert np.all(np.array(m["feature_min"]) <= np.array(m["feature_max"]))
    metrics = json.load(open(res.files["metrics"]))
    assert metrics["errors"]["test"]["n_structures"] == 3
    # the fit learned something: better than predicting composition energies only
    hist = res.history
    assert hist[-1]["train_force_rmse_eV_A"] < hist[0]["train_force_rmse_eV_A"]


def test_tf_matches_numpy_and_finite_differences(emt_file, trained):
    """Energies, forces, stresses: TF training graph == NumPy evaluation of the
    exported file == finite differences of the exported energy."""
    from tinynet.evaluation import predict, predict_one
    from tinynet.potential_file import read_potential
    from tinynet.training import (Model, compute_descriptors_for, feature_stats, fit_e0,
                                  make_batch, EV_A3_TO_GPA)

    pot = read_potential(trained.output)
    frames = load_files([str(emt_file)]).frames[:4]
    elements = pot["elements"]
    descs = compute_descriptors_for(frames, SMALL_DESCRIPTOR, elements)
    stats = feature_stats(descs, len(elements), descs[0]["features"].shape[1])
    e0 = fit_e0(frames, elements)
    rng = np.random.default_rng(3)
    n_feat = len(stats[0]["mean"])
    params = [[rng.normal(0, 0.3, (n_feat, 8)), rng.normal(0, 0.1, 8),
               rng.normal(0, 0.3, (8, 8)), rng.normal(0, 0.1, 8),
               rng.normal(0, 0.3, (8, 1)), rng.normal(0, 0.1, 1)] for _ in elements]
    scale = 0.37
    model = Model(params, len(elements), scale, (1, 1, 1), dtype="float64",
                  inv_std=[1.0 / s["std"] for s in stats])
    batch = model.to_tensors(make_batch(frames, descs, elements, stats, e0, use_stress=True))
    energy, forces, stress = (t.numpy() for t in model._predict(batch))

    from tinynet.training import export_potential
    exported = export_potential(elements, SMALL_DESCRIPTOR, stats, e0, params, scale)
    preds = predict(exported, frames, descs=descs)
    comp_e0 = np.array([sum(e0[elements.index(s)] for s in f.atoms.get_chemical_symbols()) for f in frames])
    np.testing.assert_allclose(energy + comp_e0, [p["energy"] for p in preds], rtol=0, atol=1e-9)
    # forces come out sorted by element inside a batch
    sp = np.concatenate([d["species"] for d in descs])
    order = np.argsort(sp, kind="stable")
    np.testing.assert_allclose(forces, np.concatenate([p["forces"] for p in preds])[order], atol=1e-9)
    np.testing.assert_allclose(stress, np.stack([p["stress"].reshape(9) for p in preds]) * EV_A3_TO_GPA,
                               atol=1e-8)

    # finite differences of the exported potential (NumPy path)
    atoms = frames[1].atoms.copy()
    ref = predict_one(exported, atoms)
    h = 1e-5
    for i, x in [(0, 0), (3, 2), (6, 1)]:
        ap, am = atoms.copy(), atoms.copy()
        ap.positions[i, x] += h
        am.positions[i, x] -= h
        fd = -(predict_one(exported, ap, stress=False)["energy"] - predict_one(exported, am, stress=False)["energy"]) / (2 * h)
        assert abs(fd - ref["forces"][i, x]) < 1e-6
    for a, b in [(0, 0), (1, 2)]:
        eps = np.zeros((3, 3))
        eps[a, b] = eps[b, a] = h
        ap, am = atoms.copy(), atoms.copy()
        ap.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        am.set_cell(atoms.cell.array @ (np.eye(3) - eps), scale_atoms=True)
        dE = (predict_one(exported, ap, stress=False)["energy"] - predict_one(exported, am, stress=False)["energy"]) / (2 * h)
        fd = dE / atoms.get_volume() / (2 if a != b else 1)
        assert abs(fd - ref["stress"][a, b]) < 1e-7


def test_resume_equals_uninterrupted_run(emt_file, tmp_path):
    from tinynet.potential_file import read_potential
    from tinynet.training import checkpoint_path, load_checkpoint, train

    quiet = {"progress": False, "log": lambda *a: None, "plots": False}
    full = train([str(emt_file)], str(tmp_path / "full.tinynet"), config=small_config(epochs=12, batch_size=4), **quiet)

    part = tmp_path / "part.tinynet"
    # "killed" after epoch 8: the checkpoint of epoch 8 is all that survives
    train([str(emt_file)], str(part), config=small_config(epochs=8, batch_size=4), **quiet)
    meta, *_ = load_checkpoint(checkpoint_path(str(part)), 2)
    assert meta["epoch"] == 8
    part.unlink()
    res = train([str(emt_file)], str(part), config=small_config(epochs=12, batch_size=4), resume=True, **quiet)
    assert res.epochs_run == 12
    assert [h["epoch"] for h in res.history] == list(range(1, 13))
    assert res.best_epoch == full.best_epoch
    a, b = read_potential(full.output), read_potential(res.output)
    for el in a["elements"]:
        for la, lb in zip(a["models"][el]["layers"], b["models"][el]["layers"]):
            np.testing.assert_array_equal(la["weights"], lb["weights"])
            np.testing.assert_array_equal(la["bias"], lb["bias"])
    assert a["provenance"]["errors"] == b["provenance"]["errors"]
    # resuming a finished run does no more epochs and keeps the best weights
    again = train([str(emt_file)], str(part), config=small_config(epochs=12, batch_size=4), resume=True, **quiet)
    assert again.epochs_run == 12 and again.best_epoch == full.best_epoch
    assert read_potential(part)["models"] == b["models"]


def test_lbfgs_stage_refines_the_adam_fit(emt_file, tmp_path):
    from tinynet.training import train

    quiet = {"progress": False, "log": lambda *a: None, "plots": False}
    adam = train([str(emt_file)], str(tmp_path / "adam.tinynet"), config=small_config(epochs=40), **quiet)
    both = train([str(emt_file)], str(tmp_path / "both.tinynet"),
                 config=small_config(epochs=40, lbfgs_iterations=60), **quiet)
    # the same Adam stage, then L-BFGS iterations numbered on from its last epoch
    assert [h["val_loss"] for h in both.history[:40]] == [h["val_loss"] for h in adam.history]
    refined = both.history[40:]
    assert 20 <= len(refined) <= 60 and all(h["stage"] == "lbfgs" for h in refined)
    assert [h["epoch"] for h in refined] == list(range(41, 41 + len(refined)))
    assert both.stop_reason.startswith("epochs, then L-BFGS")
    # it fits much further than Adam did, and the exported file has the best weights of both stages
    assert refined[-1]["train_force_rmse_eV_A"] < 0.5 * adam.history[-1]["train_force_rmse_eV_A"]
    assert both.best_epoch > 40
    assert both.metrics["train"]["force_rmse_eV_A"] < 0.5 * adam.metrics["train"]["force_rmse_eV_A"]


def test_lbfgs_stage_resumes_from_its_checkpoint(emt_file, tmp_path):
    from tinynet.training import checkpoint_path, load_checkpoint, train

    quiet = {"progress": False, "log": lambda *a: None, "plots": False}
    out = tmp_path / "lb.tinynet"
    first = train([str(emt_file)], str(out), config=small_config(epochs=10, lbfgs_iterations=6), **quiet)
    meta = load_checkpoint(checkpoint_path(str(out)), 2)[0]
    assert meta["stage"] == "lbfgs" and meta["lbfgs_done"] == 6 and meta["epoch"] == 10
    # a longer L-BFGS budget continues from there; no more Adam epochs
    more = train([str(emt_file)], str(out), config=small_config(epochs=10, lbfgs_iterations=14), resume=True, **quiet)
    assert [h["epoch"] for h in more.history] == list(range(1, 25))
    assert [h.get("stage") for h in more.history[10:]] == ["lbfgs"] * 14
    assert more.history[:16] == first.history
    assert first.best_epoch <= more.best_epoch <= 24


def test_lbfgs_time_share():
    from tinynet.training import stage_seconds

    t = small_config(lbfgs_iterations=10, lbfgs_time_fraction=0.25, max_time_minutes=4.0)["training"]
    assert stage_seconds(t, "adam") == pytest.approx(180.0) and stage_seconds(t, "lbfgs") == pytest.approx(60.0)
    t = small_config(max_time_minutes=4.0)["training"]
    assert stage_seconds(t, "adam") == pytest.approx(240.0)
    assert stage_seconds(small_config()["training"], "adam") == float("inf")
    with pytest.raises(ConfigError, match="lbfgs_time_fraction"):
        small_config(lbfgs_time_fraction=1.0)


def test_resume_with_changed_config_is_refused(emt_file, tmp_path):
    from tinynet.training import TrainingError, train

    quiet = {"progress": False, "log": lambda *a: None, "plots": False}
    out = tmp_path / "x.tinynet"
    with pytest.raises(TrainingError, match="no checkpoint"):
        train([str(emt_file)], str(out), config=small_config(epochs=2), resume=True, **quiet)
    train([str(emt_file)], str(out), config=small_config(epochs=2), **quiet)
    cfg = small_config(epochs=4)
    cfg["network"]["hidden"] = [4, 4]
    with pytest.raises(TrainingError, match="different configuration"):
        train([str(emt_file)], str(out), config=cfg, resume=True, **quiet)


def test_early_stopping_keeps_best(emt_file, tmp_path):
    from tinynet.training import train

    # absurd learning rate: validation loss gets worse, training stops, best weights kept
    res = train([str(emt_file)], str(tmp_path / "es.tinynet"),
                config=small_config(epochs=200, patience=3, learning_rate=0.5),
                progress=False, log=lambda *a: None, plots=False)
    assert res.stop_reason == "early stopping"
    assert res.epochs_run == res.best_epoch + 3
    best = min(h["val_loss"] for h in res.history)
    assert res.history[res.best_epoch - 1]["val_loss"] == best


# ---------------------------------------------------------------- presets & config

def test_presets_are_explicit():
    d = make_preset("L4(2)", 2.35)
    mom, eann = d["blocks"]
    assert mom == {"type": "moments", "n_max": 4, "bond_cutoff": 3.055, "r0": 2.35, "decay_lengths": [0.5, 1.0]}
    assert eann["type"] == "eann" and len(eann["centers"]) == 6 and eann["l_max"] == 2
    assert eann["cutoff"] == 5.0               # past the 2nd diamond shell (3.84) and at least 5 A
    d6 = make_preset("L6(4)", 2.35)
    assert d6["blocks"][0]["n_max"] == 6 and len(d6["blocks"][0]["decay_lengths"]) == 3
    assert 5.43 < d6["blocks"][1]["cutoff"] < 5.92 and d6["blocks"][1]["l_max"] == 3
    assert validate_descriptor(d) == d
    with pytest.raises(ConfigError, match="preset"):
        make_preset("L4[2]", 2.35)


@pytest.mark.parametrize("cfg, where", [
    ({"trainig": {}}, "trainig"),
    ({"training": {"learnig_rate": 0.1}}, "training.learnig_rate"),
    ({"training": {"epochs": "100"}}, "training.epochs"),
    ({"training": {"epochs": 1.5}}, "training.epochs"),
    ({"loss": {"force_weight": -1}}, "loss.force_weight"),
    ({"network": {"hidden": [16, "32"]}}, "network.hidden"),
    ({"network": {"activation": "relu"}}, "network.activation"),
    ({"preset": "L4"}, "preset"),
    ({"elements": ["Si", "Xx"]}, "elements[1]"),
    ({"descriptor": {"blocks": [{"type": "radial", "cutoff": 4.0, "centres": [1.0], "alpha": 1.0}]}},
     "descriptor.blocks[0].centres"),
    ({"descriptor": {"blocks": [{"type": "radial", "cutoff": 4.0, "alpha": 1.0}]}}, "descriptor.blocks[0].centers"),
    ({"descriptor": {"blocks": [{"type": "cycles", "n_max": 4}]}}, "descriptor.blocks[0].type"),
    ({"descriptor": {"blocks": [{"type": "moments", "n_max": 4, "bond_cutoff": 3.0, "r0": 0,
                                 "decay_lengths": [1.0, -2.0]}]}}, "descriptor.blocks[0].decay_lengths[1]"),
])
def test_strict_config(cfg, where):
    with pytest.raises(ConfigError) as exc:
        validate_config(cfg)
    assert str(exc.value).startswith(where + ":"), str(exc.value)


def test_config_suggests_close_key():
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        validate_config({"training": {"learnig_rate": 0.1}})


def test_config_defaults_roundtrip():
    cfg = validate_config({"training": {"epochs": 5}, "loss": {"force_weight": 1}})
    assert cfg["training"]["epochs"] == 5 and cfg["loss"]["force_weight"] == 1.0
    assert cfg["network"]["hidden"] == [16, 32]
    assert validate_config(json.loads(json.dumps(cfg))) == cfg


# ---------------------------------------------------------------- data errors

def _write(path, frames):
    import ase.io

    ase.io.write(path, frames, format="extxyz")
    return str(path)


@pytest.mark.parametrize("missing,index,message", [("energy", 2, "no energy"), ("forces", 1, "no force")])
def test_frame_without_a_label(tmp_path, missing, index, message):
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = make_emt_frames(3)
    a = frames[index]
    kept = {k: v for k, v in a.calc.results.items() if k in ("energy", "forces") and k != missing}
    a.calc = SinglePointCalculator(a, **kept)
    name = f"no{missing}.extxyz"
    path = _write(tmp_path / name, frames)
    with pytest.raises(DataError, match=rf"{name}, frame {index}: {message}"):
        load_files([path])


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "corrupt.extxyz"
    bad.write_text("8\nLattice=\"1 0 0 0 1 0 0 0 1\" Properties=species:S:1:pos:R:3\nCu 0 0 0\nCu 1 1\n")
    with pytest.raises(DataError, match="corrupt.extxyz: cannot read"):
        load_files([str(bad)])
    with pytest.raises(DataError, match="nothere.extxyz: no such file"):
        load_files([str(tmp_path / "nothere.extxyz")])


def test_element_mismatch_names_file_and_frame(tmp_path):
    frames = make_emt_frames(3) + make_emt_frames(1, elements=("Cu", "Ni"))
    path = _write(tmp_path / "mixed.extxyz", frames)
    with pytest.raises(DataError, match=r"mixed.extxyz, frame 3: element\(s\) Ni not in"):
        load_files([path], elements=["Al", "Cu"])


def test_time_limit_stops_and_exports(emt_file, tmp_path):
    from tinynet.training import train

    res = train([str(emt_file)], str(tmp_path / "t.tinynet"), config=small_config(epochs=100000),
                max_time=1e-4, progress=False, log=lambda *a: None, plots=False)
    assert res.stop_reason == "time limit" and res.epochs_run >= 1
    assert (tmp_path / "t.tinynet").exists() and (tmp_path / "t.tinynet.ckpt.npz").exists()


def test_time_budget_lifts_the_epoch_cap_and_provenance_is_portable(tmp_path, monkeypatch):
    """--max-time without --epochs: time and early stopping bound the run, not
    the default epoch count; data files in provenance are not absolute paths."""
    from tinynet.training import UNBOUNDED_EPOCHS, portable_command, portable_files, settings

    cfg = settings(validate_config(None), None, None, 0.5, None)
    assert cfg["training"]["epochs"] == UNBOUNDED_EPOCHS and cfg["training"]["max_time_minutes"] == 0.5
    assert settings(validate_config(None), None, 7, 0.5, None)["training"]["epochs"] == 7
    assert settings(validate_config(None), None, None, None, None)["training"]["epochs"] == 2000

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    far = "/" + "/".join(["x"] * 8) + "/set.extxyz"
    shown = portable_files([{"path": str(tmp_path / "data" / "a.extxyz"), "sha256": "0"},
                            {"path": far, "sha256": "1"}])
    assert [f["path"] for f in shown] == [os.path.join("data", "a.extxyz"), "set.extxyz"]
    assert [f["sha256"] for f in shown] == ["0", "1"]
    data = tmp_path / "data" / "a.extxyz"
    data.write_text("")
    assert portable_command(["train", str(data), "-o", "/abs/out.tinynet", "--epochs", "3"]) == \
        f"train {os.path.join('data', 'a.extxyz')} -o /abs/out.tinynet --epochs 3"
