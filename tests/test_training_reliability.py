"""Training faults with clear messages, and outputs that survive a kill (issue 11):
bad frames named up front, elements missing from the fitting split, a
non-finite loss naming its structures, corrupt checkpoints, atomic outputs
with the user's umask, stale temporaries, a resumed run's provenance."""

from __future__ import annotations

import json
import os
import stat
import time

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from tinynet.data import DataError, load_files  # noqa: E402
from test_training import make_emt_frames, small_config  # noqa: E402

QUIET = {"progress": False, "log": lambda *a: None, "plots": False}


def _write(path, frames):
    import ase.io

    ase.io.write(path, frames, format="extxyz")
    return str(path)


def _relabel(atoms, **changes):
    from ase.calculators.singlepoint import SinglePointCalculator

    res = dict(atoms.calc.results)
    res.update(changes)
    atoms.calc = SinglePointCalculator(atoms, **{k: res[k] for k in ("energy", "forces", "stress")})


@pytest.fixture(scope="module")
def emt_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rel") / "cual.extxyz"
    return _write(path, make_emt_frames(12, seed=7))


# ---------------------------------------------------------------- data checks

def _coincident(frames):
    a = frames[2]
    a.positions[5] = a.positions[1] + [0.0, 0.0, 1e-3]


def _near(frames):
    a = frames[2]
    a.positions[5] = a.positions[1] + [0.3, 0.0, 0.0]


def _huge_force(frames):
    f = frames[2].get_forces().copy()
    f[4, 1] = 1e300
    _relabel(frames[2], forces=f)


def _absurd_energy(frames):
    _relabel(frames[2], energy=-3e8)


@pytest.mark.parametrize("damage, message", [
    (_coincident, r"atoms 1 and 5 are 0.0010 A apart, closer than the 0.5 A minimum"),
    (_near, r"atoms 1 and 5 are 0.3000 A apart"),
    (_huge_force, r"force on atom 4 has a component of 1e\+300 eV/A, beyond the 1000 eV/A bound"),
    (_absurd_energy, r"energy -3e\+08 eV is 3.75e\+07 eV per atom, beyond the 1e\+06 eV/atom"),
])
def test_bad_frames_are_named_up_front(tmp_path, damage, message):
    frames = make_emt_frames(4)
    damage(frames)
    path = _write(tmp_path / "bad.extxyz", frames)
    with pytest.raises(DataError, match=r"bad.extxyz, frame 2: " + message):
        load_files([path])


def test_bad_frame_in_test_split_stops_before_training(emt_file, tmp_path, capsys):
    """It used to train fully and then die in export with a raw ValueError."""
    from tinynet.cli import main

    frames = make_emt_frames(3, seed=1)
    _coincident(frames)
    test = _write(tmp_path / "test.extxyz", frames)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(small_config(epochs=3)))
    capsys.readouterr()
    assert main(["train", emt_file, "--test", test, "-o", str(tmp_path / "p.tinynet"), "--config", str(cfg),
                 "--no-progress", "--no-plots"]) == 2
    err = capsys.readouterr().err
    assert "test.extxyz, frame 2: atoms 1 and 5" in err
    assert not (tmp_path / "p.tinynet.ckpt.npz").exists()


def test_element_missing_from_fitting_split(tmp_path):
    from tinynet.training import train

    # Ni only in frame 0; with this seed the split puts frame 0 into the test split
    frames = [make_emt_frames(1, elements=("Cu", "Ni"))[0]] + make_emt_frames(9, seed=3, elements=("Cu",))
    path = _write(tmp_path / "ni.extxyz", frames)
    cfg = small_config(epochs=2, test_fraction=0.2, seed=2)
    from tinynet.data import split_indices

    assert 0 in split_indices(10, 0.2, 2)[1]
    with pytest.raises(DataError, match=r"element\(s\) Ni have no atoms in the fitting split: "
                                        r"Ni \(first in .*ni.extxyz, frame 0.*--allow-missing-elements"):
        train([path], str(tmp_path / "x.tinynet"), config=cfg, **QUIET)
    warnings = []
    res = train([path], str(tmp_path / "x.tinynet"), config=cfg, allow_missing_elements=True,
                progress=False, plots=False, log=warnings.append)
    assert res.potential["elements"] == ["Cu", "Ni"]
    assert any("Ni" in w and "untrained" in w for w in warnings)


def test_nonfinite_loss_names_the_structure(tmp_path, monkeypatch):
    """A label that passes the checks but overflows in float32 (here: the
    stress bound lifted) gives a divergence message naming its frame."""
    import tinynet.data
    from tinynet.training import TrainingError, train

    monkeypatch.setattr(tinynet.data, "MAX_STRESS", 1e40)
    frames = make_emt_frames(10, seed=4)
    stress = frames[6].get_stress().copy()
    stress[0] = 1e19        # x 160 GPa per eV/A^3: finite in float32, its square is not
    _relabel(frames[6], stress=stress)
    path = _write(tmp_path / "overflow.extxyz", frames)
    cfg = small_config(epochs=3, validation_fraction=0.0, test_fraction=0.0, dtype="float32")
    with pytest.raises(TrainingError, match=r"non-finite loss\); non-finite errors on: [^;]*overflow.extxyz, "
                                            r"frame 6\. Check those structures' labels"):
        train([path], str(tmp_path / "o.tinynet"), config=cfg, **QUIET)


# ---------------------------------------------------------------- checkpoints and outputs

def test_corrupt_checkpoint_is_a_clear_error(emt_file, tmp_path, capsys):
    from tinynet.cli import main
    from tinynet.training import TrainingError, checkpoint_path, train

    out = tmp_path / "c.tinynet"
    train([emt_file], str(out), config=small_config(epochs=2), **QUIET)
    ckpt = checkpoint_path(str(out))
    data = open(ckpt, "rb").read()
    for damaged in (b"", data[: len(data) // 2], b"\x00junk" * 50):     # empty, truncated, garbage
        with open(ckpt, "wb") as fh:
            fh.write(damaged)
        with pytest.raises(TrainingError, match=r"c.tinynet.ckpt.npz: corrupt, truncated or empty checkpoint .*"
                                                r"start the run again without --resume"):
            train([emt_file], str(out), config=small_config(epochs=4), resume=True, **QUIET)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(small_config(epochs=4)))
    capsys.readouterr()
    assert main(["train", emt_file, "-o", str(out), "--config", str(cfg), "--resume", "--no-progress"]) == 2
    assert "without --resume" in capsys.readouterr().err


def test_outputs_follow_the_umask_and_stale_temporaries_go(emt_file, tmp_path):
    mask = 0o027     # not mkstemp's 0600, not a hard-coded 0644
    from tinynet.training import train

    out = tmp_path / "u.tinynet"
    stale = [tmp_path / ".tmp-u.metrics.json-k1ll3d.json", tmp_path / ".tmp-u.tinynet.ckpt.npz-x.npz",
             tmp_path / ".tmp-u.tinynet.jacobians-r0-abc", tmp_path / ".tmp-q81z.tinynet"]
    recent_other = tmp_path / ".tmp-zz91.tinynet"    # another writer's, seconds old: kept
    for p in stale + [recent_other]:
        p.write_text("left by a kill")
    old = time.time() - 3600
    os.utime(stale[-1], (old, old))
    previous = os.umask(mask)
    try:
        res = train([emt_file], str(out), config=small_config(epochs=2), progress=False,
                    log=lambda *a: None, plots=True)
    finally:
        os.umask(previous)
    assert not any(p.exists() for p in stale) and recent_other.exists()
    written = list(res.files.values()) + [str(out) + ".ckpt.npz"]
    assert len(written) == 6
    for path in written:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask, path
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith(".tmp-")) == [recent_other.name]


def test_failed_write_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    from tinynet import atomic

    target = tmp_path / "m.metrics.json"
    target.write_text('{"old": 1}')

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic.write_text(target, '{"new": 2}')
    assert json.loads(target.read_text()) == {"old": 1}
    assert os.listdir(tmp_path) == ["m.metrics.json"]


def test_resumed_provenance_keeps_stop_reason_and_speed(emt_file, tmp_path):
    from tinynet.training import train

    out = tmp_path / "s.tinynet"
    first = train([emt_file], str(out), config=small_config(epochs=200, patience=3, learning_rate=0.5), **QUIET)
    assert first.stop_reason == "early stopping" and first.epochs_per_second > 0
    again = train([emt_file], str(out), config=small_config(epochs=200, patience=3, learning_rate=0.5),
                  resume=True, **QUIET)
    tr = json.load(open(out))["provenance"]["training"]
    assert tr["stop_reason"] == "early stopping" and again.stop_reason == "early stopping"
    assert tr["epochs_per_second"] == first.epochs_per_second
    assert again.epochs_run == first.epochs_run
