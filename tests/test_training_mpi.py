"""Data-parallel training under real `mpirun -np 2` (mpi4py on the
environment's MPICH): same loss history as one rank, and a SIGKILLed 2-rank
run resumes bit-identically."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("mpi4py")

from tinynet.lammps_support import mpirun_executable, subprocess_env  # noqa: E402
from test_training import make_emt_frames, small_config  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MAIN = "import sys; from tinynet.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    import ase.io

    d = tmp_path_factory.mktemp("mpi")
    # structures of different sizes (8 and 16 atoms), so that the ranks' shares differ
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    frames = make_emt_frames(14, seed=11)
    for a in make_emt_frames(4, seed=12):
        a = a.repeat((1, 2, 1))
        a.calc = EMT()
        e, f, s = a.get_potential_energy(), a.get_forces(), a.get_stress()
        a.calc = SinglePointCalculator(a, energy=e, forces=f, stress=s)
        frames.append(a)
    ase.io.write(d / "train.extxyz", frames, format="extxyz")
    return d


def _env():
    env = subprocess_env()
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "trainer"), str(REPO / "tests"), env.get("PYTHONPATH", "")])
    return env


def _mpirun(n, args):
    return [mpirun_executable(), "-np", str(n), sys.executable, "-c", MAIN, *args]


def _config(path, **training):
    path.write_text(json.dumps(small_config(**training)))
    return str(path)


def _weights(path):
    pot = json.load(open(path))
    return [np.array(l[k]) for m in pot["models"].values() for l in m["layers"] for k in ("weights", "bias")]


# Long enough that the killed run, stopped as soon as its checkpoint says
# epoch 2, is still short of it (on a quiet machine ~30 epochs pass between
# reading that checkpoint and the kill taking effect)
EPOCHS = 100
LBFGS = 6       # then L-BFGS iterations: every rank runs the same optimiser on the summed loss
CONFIG = {"epochs": EPOCHS, "batch_size": 5, "dtype": "float64", "checkpoint_every": 1, "lbfgs_iterations": LBFGS}


@pytest.fixture(scope="module")
def two_rank_run(data, tmp_path_factory):
    """The reference: an uninterrupted 2-rank run."""
    d = tmp_path_factory.mktemp("two")
    args = ["train", str(data / "train.extxyz"), "-o", str(d / "two.tinynet"),
            "--config", _config(d / "cfg.json", **CONFIG), "--no-progress", "--no-plots"]
    proc = subprocess.run(_mpirun(2, args), env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return d / "two.tinynet", proc.stdout


def test_two_ranks_match_one_rank(data, two_rank_run, tmp_path):
    from tinynet.training import load_checkpoint, train

    two, stdout = two_rank_run
    one = train([str(data / "train.extxyz")], str(tmp_path / "one.tinynet"), config=small_config(**CONFIG),
                progress=False, log=lambda *a: None, plots=False)
    assert "on 2 MPI ranks" in stdout and stdout.count("wrote ") == 1   # rank 0 reports
    history = load_checkpoint(str(two) + ".ckpt.npz", 2)[4]
    assert len(history) == len(one.history) == EPOCHS + LBFGS
    for h1, h2 in zip(one.history, history):
        for key in ("val_loss", "train_energy_rmse_meV_atom", "train_force_rmse_eV_A", "val_force_rmse_eV_A"):
            assert h2[key] == pytest.approx(h1[key], rel=1e-6, abs=0), key
    for a, b in zip(_weights(one.output), _weights(two)):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-9)
    prov = json.load(open(two))["provenance"]
    assert prov["training"]["mpi_ranks"] == 2
    assert prov["errors"]["train"] == pytest.approx(one.metrics["train"], rel=1e-6)


def test_sigkill_on_two_ranks_resumes_bit_identically(data, two_rank_run, tmp_path):
    from tinynet.training import load_checkpoint

    # same configuration as the reference but for the epoch limit (not part of the resume check)
    cfg = _config(tmp_path / "cfg.json", **dict(CONFIG, epochs=100000))
    out = tmp_path / "k.tinynet"
    ckpt = Path(str(out) + ".ckpt.npz")
    base = ["train", str(data / "train.extxyz"), "-o", str(out), "--config", cfg, "--no-progress", "--no-plots"]
    # the killed run streams its Jacobians from cache files (same bits as in memory)
    proc = subprocess.Popen(_mpirun(2, base + ["--jacobians", "disk"]), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None and done < 2:
        if ckpt.exists():
            done = load_checkpoint(str(ckpt), 2)[0]["epoch"]
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)       # mpirun and both ranks, no chance to clean up
    _, err = proc.communicate(timeout=60)
    done = load_checkpoint(str(ckpt), 2)[0]["epoch"]
    assert 2 <= done < EPOCHS, err[-3000:]      # killed in the Adam stage
    # left by the kill: fitting and validation caches of each rank
    assert len([p for p in os.listdir(tmp_path) if ".jacobians-r" in p]) == 4
    resumed = subprocess.run(_mpirun(2, base + ["--epochs", str(EPOCHS), "--resume"]),
                             env=_env(), capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for a, b in zip(_weights(out), _weights(two_rank_run[0])):
        np.testing.assert_array_equal(a, b)
    h1 = load_checkpoint(str(ckpt), 2)[4]
    h2 = load_checkpoint(str(two_rank_run[0]) + ".ckpt.npz", 2)[4]
    assert [h["val_loss"] for h in h1] == [h["val_loss"] for h in h2]
    # the resumed run removed the killed run's cache files
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]
