"""`tinynet demo --quick`: the main job end to end (LAMMPS data, TensorFlow
training, export, MD with pair_style tinynet under mpirun -np 2), small."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tinynet.lammps_support import bin_dir, subprocess_env


def test_demo_quick(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [str(Path(bin_dir()) / "tinynet"), "demo", "--quick", "--output", str(out)],
        capture_output=True, text=True, timeout=900, env=subprocess_env(), cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "tinynet demo report" in proc.stdout
    report = json.loads((out / "demo_report.json").read_text())
    assert Path(report["potential"]).is_file()
    assert report["md"]["ranks"] == 2
    for style in ("sw", "tinynet"):
        assert report["md"][style]["us_per_atom_step"] > 0
    # the trained potential learned something: far better than predicting zero force
    assert report["test_vs_sw"]["force_mae_eV_A"] < 0.6
    assert report["test_vs_sw"]["n_structures"] >= 2
    # the MD log shows pair_style tinynet running on 2 ranks
    log = (out / "log.md_tinynet").read_text()
    assert "on 2 procs" in log and "pair tinynet" in log
