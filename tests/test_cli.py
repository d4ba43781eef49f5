"""The `tinynet` command: train / test / info, errors, interruption and resume."""

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

from tinynet.cli import main  # noqa: E402
from test_training import SMALL_DESCRIPTOR, make_emt_frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def write_config(path, **training):
    t = {"checkpoint_every": 2, "patience": 0, "validation_fraction": 0.2}
    t.update(training)
    cfg = {"descriptor": SMALL_DESCRIPTOR, "network": {"hidden": [8, 8]}, "training": t}
    path.write_text(json.dumps(cfg))
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import ase.io

    d = tmp_path_factory.mktemp("cli")
    ase.io.write(d / "train.extxyz", make_emt_frames(12, seed=1), format="extxyz")
    ase.io.write(d / "test.extxyz", make_emt_frames(4, seed=2), format="extxyz")
    return d


@pytest.fixture(scope="module")
def potential(files):
    out = files / "pot" / "CuAl.tinynet"
    rc = main(["train", str(files / "train.extxyz"), "--test", str(files / "test.extxyz"),
               "-o", str(out), "--config", write_config(files / "cfg.json"), "--epochs", "10",
               "--seed", "3", "--no-progress"])
    assert rc == 0
    return out


def test_train_writes_potential_and_outputs(potential, capsys):
    stem = str(potential)[: -len(".tinynet")]
    for suffix in (".tinynet", ".metrics.json", ".parity_energy.png", ".parity_forces.png",
                   ".learning_curves.png"):
        assert os.path.getsize(stem + suffix) > 0, suffix
    prov = json.load(open(potential))["provenance"]
    assert prov["split"]["test"] == "files" and prov["test_files"][0]["n_frames"] == 4
    assert prov["config"]["training"]["seed"] == 3 and prov["training"]["epochs"] == 10
    assert prov["command"].startswith("tinynet train")


def test_test_json_matches_recorded_errors(potential, files, capsys):
    capsys.readouterr()
    assert main(["test", str(potential), str(files / "test.extxyz"), "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert list(m) == ["energy_rmse_meV_atom", "energy_mae_meV_atom", "force_rmse_eV_A", "force_mae_eV_A",
                       "stress_rmse_GPa", "n_structures", "n_atoms"]
    assert m["n_structures"] == 4 and m["n_atoms"] == 32
    rec = json.load(open(potential))["provenance"]["errors"]["test"]
    for k, v in m.items():
        assert v == pytest.approx(rec[k], rel=1e-12, abs=1e-12), k
    assert m["stress_rmse_GPa"] is not None  # EMT frames carry stress


def test_test_against_independent_numbers(potential, files, capsys):
    """tinynet test == a direct computation with the ASE calculator of the same file."""
    import ase.io

    calc_mod = pytest.importorskip("tinynet.calculator")
    frames = ase.io.read(files / "test.extxyz", ":")
    de, df = [], []
    for a in frames:
        e, f = a.get_potential_energy(), a.get_forces()
        b = a.copy()
        b.calc = calc_mod.TinyNetCalculator(str(potential))
        de.append((b.get_potential_energy() - e) / len(a))
        df.append((b.get_forces() - f).ravel())
    capsys.readouterr()
    main(["test", str(potential), str(files / "test.extxyz"), "--json"])
    m = json.loads(capsys.readouterr().out)
    assert m["energy_mae_meV_atom"] == pytest.approx(1000 * np.mean(np.abs(de)), rel=1e-9)
    assert m["force_rmse_eV_A"] == pytest.approx(np.sqrt(np.mean(np.concatenate(df) ** 2)), rel=1e-9)


def test_test_text_and_info(potential, files, capsys):
    capsys.readouterr()
    assert main(["test", str(potential), str(files / "test.extxyz")]) == 0
    out = capsys.readouterr().out
    assert "meV/atom" in out and "eV/A" in out and "GPa" in out
    assert main(["info", str(potential)]) == 0
    out = capsys.readouterr().out
    assert "Al Cu" in out and "moments" in out and "radial" in out
    assert "16 x 8 x 8 x 1" in out and "errors" in out and "test" in out
    assert main(["info", str(potential), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_features"] == 16 and info["networks"]["Cu"]["layers"] == [16, 8, 8, 1]


def test_test_element_mismatch(potential, tmp_path, capsys):
    import ase.io

    path = tmp_path / "ni.extxyz"
    ase.io.write(path, make_emt_frames(2) + make_emt_frames(1, elements=("Cu", "Ni")), format="extxyz")
    capsys.readouterr()
    assert main(["test", str(potential), str(path)]) == 2
    err = capsys.readouterr().err
    assert "ni.extxyz, frame 2" in err and "Ni" in err


def test_cli_errors_name_the_problem(files, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"training": {"epochs": 3, "batchsize": 4}}))
    capsys.readouterr()
    assert main(["train", str(files / "train.extxyz"), "-o", str(tmp_path / "x.tinynet"),
                 "--config", str(bad), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "bad.json" in err and "training.batchsize" in err and "batch_size" in err

    broken = tmp_path / "broken.json"
    broken.write_text("{\"training\": ")
    assert main(["train", str(files / "train.extxyz"), "-o", str(tmp_path / "x.tinynet"),
                 "--config", str(broken)]) == 2
    assert "invalid JSON" in capsys.readouterr().err

    corrupt = tmp_path / "corrupt.extxyz"
    corrupt.write_text("3\n\nSi 0 0\n")
    assert main(["test", str(files / "pot" / "CuAl.tinynet"), str(corrupt)]) == 2
    assert "corrupt.extxyz" in capsys.readouterr().err

    notpot = tmp_path / "not.tinynet"
    notpot.write_text("{")
    assert main(["info", str(notpot)]) == 2
    assert "not.tinynet" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        main(["train", str(files / "train.extxyz"), "-o", "x", "--preset", "L4(2)", "--config", str(bad)])


def test_killed_run_resumes(files, tmp_path):
    """SIGTERM in the middle of a CLI run: it checkpoints and exits; --resume finishes it."""
    out = tmp_path / "killed.tinynet"
    cfg = write_config(tmp_path / "cfg.json", checkpoint_every=1)
    args = ["train", str(files / "train.extxyz"), "-o", str(out), "--config", cfg,
            "--epochs", "100000", "--no-progress", "--no-plots"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "trainer"), str(REPO / "tests")]))
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from tinynet.cli import main; sys.exit(main(sys.argv[1:]))",
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpt = Path(str(out) + ".ckpt.npz")
    deadline = time.time() + 90
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if not ckpt.exists():
        proc.kill()
        out_, err_ = proc.communicate()
        pytest.fail(f"no checkpoint; returncode {proc.returncode}\n{out_}\n{err_[-3000:]}")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err

    from tinynet.training import load_checkpoint

    meta, *_ = load_checkpoint(str(ckpt), 2)
    done = meta["epoch"]
    assert done >= 1 and not out.exists()
    target = done + 3
    rc = main(["train", str(files / "train.extxyz"), "-o", str(out), "--config", cfg,
               "--epochs", str(target), "--no-progress", "--no-plots", "--resume"])
    assert rc == 0
    prov = json.load(open(out))["provenance"]
    assert prov["training"]["epochs"] == target
    meta2, _, _, _, history = load_checkpoint(str(ckpt), 2)
    assert [h["epoch"] for h in history] == list(range(1, target + 1))
    assert meta2["best_epoch"] >= meta["best_epoch"]
