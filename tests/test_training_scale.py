"""Training that scales (issue 10): minibatches, Jacobians streamed from a
cache file, the learning-rate schedule, the up-front memory estimate, and the
end-of-run report.  Real TensorFlow on a few small EMT cells."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from test_training import make_emt_frames, small_config  # noqa: E402

QUIET = {"progress": False, "log": lambda *a: None, "plots": False}


@pytest.fixture(scope="module")
def emt_file(tmp_path_factory):
    import ase.io

    path = tmp_path_factory.mktemp("scale") / "cual.extxyz"
    ase.io.write(path, make_emt_frames(14, seed=5), format="extxyz")
    return str(path)


def _weights(pot):
    return [np.array(l["weights"]) for m in pot["models"].values() for l in m["layers"]]


def test_minibatch_run_converges(emt_file, tmp_path):
    from tinynet.training import train

    res = train([emt_file], str(tmp_path / "mb.tinynet"),
                config=small_config(epochs=40, batch_size=2, learning_rate=0.005), **QUIET)
    assert res.potential["provenance"]["training"]["batches_per_epoch"] == 5   # 9 fitting structures
    first, last = res.history[0], res.history[-1]
    assert last["train_force_rmse_eV_A"] < 0.7 * first["train_force_rmse_eV_A"]
    assert min(h["val_loss"] for h in res.history) < 0.5 * first["val_loss"]


def test_disk_cache_equals_memory_and_is_removed(emt_file, tmp_path):
    """Jacobians streamed from the cache file give the same bits as in memory;
    the cache file is gone afterwards."""
    from tinynet.training import train

    cfg = small_config(epochs=6, batch_size=3)
    mem = train([emt_file], str(tmp_path / "m.tinynet"), config=cfg, store="memory", **QUIET)
    disk = train([emt_file], str(tmp_path / "d.tinynet"), config=cfg, store="disk", **QUIET)
    assert disk.potential["provenance"]["training"]["jacobian_store"] == "disk"
    assert [h["val_loss"] for h in mem.history] == [h["val_loss"] for h in disk.history]
    for a, b in zip(_weights(mem.potential), _weights(disk.potential)):
        np.testing.assert_array_equal(a, b)
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_learning_rate_schedule():
    from tinynet.training import learning_rate

    t = {"learning_rate": 0.01, "lr_decay_epochs": 10, "min_learning_rate": 1e-4}
    # one batch per epoch: the per-epoch halving, no warm-up
    assert learning_rate(t, 0) == 0.01 and learning_rate(t, 10) == pytest.approx(0.005)
    # several batches: linear warm-up over the first epoch, then smooth decay per step
    warm = [learning_rate(t, 0, k, 4) for k in range(4)]
    assert warm[0] == pytest.approx(0.25 * 0.01, rel=0.01) and np.all(np.diff(warm) > 0)
    assert learning_rate(t, 5, 2, 4) == pytest.approx(0.01 * 0.5 ** (5.5 / 10))
    assert learning_rate(t, 1000, 0, 4) == 1e-4


def test_automatic_batch_size():
    from tinynet.batches import AUTO_BATCH_ATOMS, AUTO_FULL_BATCH_ATOMS, partition

    assert partition([100] * 50, 0, 1) == [list(range(50))]                  # small set: full batch
    groups = partition([1000] * 60, 0, 1)                                     # 60 000 atoms: minibatches
    assert 60_000 > AUTO_FULL_BATCH_ATOMS and len(groups) == 60_000 // AUTO_BATCH_ATOMS
    assert sorted(i for g in groups for i in g) == list(range(60))
    assert partition([1000] * 60, 2**31 - 1, 1) == [list(range(60))]         # --batch-size full


def test_memory_estimate_refuses_up_front(emt_file, tmp_path, monkeypatch, capsys):
    from tinynet.cli import main
    from tinynet.training import TrainingError, train

    monkeypatch.setenv("TINYNET_MEMORY_LIMIT", "1M")
    with pytest.raises(TrainingError, match=r"estimated memory .* exceeds .* available \(TINYNET_MEMORY_LIMIT=1M\)"):
        train([emt_file], str(tmp_path / "x.tinynet"), config=small_config(epochs=2), **QUIET)
    assert not (tmp_path / "x.tinynet.ckpt.npz").exists()
    monkeypatch.delenv("TINYNET_MEMORY_LIMIT")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(small_config(epochs=2)))
    capsys.readouterr()
    assert main(["train", emt_file, "-o", str(tmp_path / "y.tinynet"), "--config", str(cfg),
                 "--memory-limit", "2M", "--no-progress", "--no-plots"]) == 2
    assert "exceeds" in capsys.readouterr().err


def test_train_reports_peak_memory_and_speed(emt_file, tmp_path, capsys):
    from tinynet.cli import main
    from tinynet.memory import peak_rss

    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(small_config(epochs=5)))
    capsys.readouterr()
    assert main(["train", emt_file, "-o", str(tmp_path / "r.tinynet"), "--config", str(cfg),
                 "--batch-size", "3", "--no-progress", "--no-plots"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if l.startswith("speed:"))
    eps = float(line.split()[1])
    mb = float(line.split("peak memory")[1].split()[0])
    assert eps > 0 and 100 < mb <= peak_rss() / 2**20 + 1
    tr = json.load(open(tmp_path / "r.tinynet"))["provenance"]["training"]
    assert tr["batches_per_epoch"] == 3       # 9 fitting structures
    assert tr["epochs_per_second"] == pytest.approx(eps, rel=0.01) and tr["peak_memory_MB"] == pytest.approx(mb, abs=1)
