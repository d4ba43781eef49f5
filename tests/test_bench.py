"""`tinynet bench` end to end in a tiny mode (real LAMMPS, 1 rank, a few steps).

No timing assertions (machines are noisy): only that the table and the JSON
are produced, the numbers are positive and finite, and every ratio is the
one computed from the measured values.
"""

from __future__ import annotations

import argparse
import json
import math

import pytest

from tinynet import bench


def parse(argv):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    return parser.parse_args(argv)


def test_choose_replication():
    assert bench.choose_replication(8000, 8) == (10, 10, 10)
    nx, ny, nz = bench.choose_replication(32000, 8)
    assert 8 * nx * ny * nz == 32000
    assert bench.choose_replication(5000, 5) == (10, 10, 10)


def test_parse_output():
    log = """LAMMPS (22 Jul 2025 - Update 4)
Per MPI rank memory allocation (min/avg/max) = 3.1 | 3.2 | 3.3 Mbytes
@BENCH phase warmup
Loop time of 0.5 on 2 procs for 1 steps with 800 atoms
@BENCH steps 10
@BENCH phase timed 0
Per MPI rank memory allocation (min/avg/max) = 3.5 | 3.6 | 4.25 Mbytes
   Step          Temp          PotEng         TotEng         Press
         2   597.25249     -43360.696     -42743.165      28698.823
        12   314.27512     -43067.63      -42742.684      30531.651
Loop time of 0.2 on 2 procs for 10 steps with 800 atoms
@BENCH phase timed 1
   Step          Temp          PotEng         TotEng         Press
        12   314.27512     -43067.63      -42742.684      30531.651
        22   300.5         -43050.0       -42742.6        -2238.9721
Loop time of 0.3 on 2 procs for 10 steps with 800 atoms
Pair    | 0.25       | 0.26       | 0.27       |   0.5 | 86.67
Other   |            | 0.001      |            |       |  0.33
WARNING: something
"""
    out = bench.parse_output(log)
    assert [t["seconds"] for t in out["timed"]] == [0.2, 0.3]
    assert out["steps"] == 10
    assert out["memory_mb"] == 4.25
    assert out["lammps_version"] == "22 Jul 2025 - Update 4"
    assert out["breakdown_percent"] == {"pair": 86.67, "other": 0.33}
    assert out["warnings"] == ["WARNING: something"] and out["errors"] == []
    thermo = out["thermo_timed"]
    assert len(thermo) == 4 and thermo[0][:2] == (2, 597.25249) and thermo[-1][3] == -42742.6


def _nve_row(drift, style="tinynet"):
    return {"status": "ok", "style": style, "atoms": 8000, "system": "Si diamond 8000", "ranks": 1,
            "potential": None, "nve_energy_drift_ev_per_atom": drift}


def test_nve_check_fails_a_run_that_heats_up():
    """The bench checks every tinynet run's total energy: a run whose dynamics
    are wrong (the stale-list bug: +0.69 eV/atom over the timed runs) is a
    FAIL next to the timings, not a plausible number."""
    verdicts = {row[2] for row in bench.targets([_nve_row(2e-5)]) if row[0].startswith("NVE")}
    assert verdicts == {"PASS"}
    verdicts = {row[2] for row in bench.targets([_nve_row(0.69)]) if row[0].startswith("NVE")}
    assert verdicts == {"FAIL"}


def test_missing_potential_is_reported_not_fatal(tmp_path, capsys):
    args = parse(["--systems", "si", "srtio3", "--styles", "tinynet", "--ranks", "1", "--no-memory-baseline",
                  "--si-potential", str(tmp_path / "nope.tinynet"),
                  "--srtio3-potential", str(tmp_path / "nope2.tinynet"), "--json", str(tmp_path / "b.json")])
    assert bench.run(args) == 0
    text = capsys.readouterr().out
    assert "unavailable:" in text and "nope.tinynet not found" in text
    assert "SrTiO3 skipped" in text
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["rows"][0]["status"].startswith("unavailable")


def test_tiny_benchmark(tmp_path, capsys, monkeypatch):
    out = tmp_path / "bench.json"
    monkeypatch.chdir(tmp_path)          # a relative --workdir, as a user types it
    # two interleaved rounds of one timed run each
    args = parse(["--atoms-scale", "0.03", "--repeats", "1", "--rounds", "2", "--steps", "5", "--min-steps", "2",
                  "--target-time", "0", "--ranks", "1", "--styles", "tinynet", "tersoff", "--systems", "si",
                  "--random-tinynet", "always", "--json", str(out), "--workdir", "work"])
    assert bench.run(args) == 0
    table = capsys.readouterr().out
    assert "tersoff" in table and "random L4(2)" in table and "us/atom/step" in table
    assert "round 2 of 2" in table and list((tmp_path / "work").glob("si_*_tersoff_np1_round1.log"))

    data = json.loads(out.read_text())
    machine = data["machine"]
    for key in ("cpu_model", "nproc", "date", "lammps_version", "git_commit"):
        assert key in machine
    assert machine["lammps_version"]
    rows = {r["style"]: r for r in data["rows"]}
    assert set(rows) == {"tinynet", "tersoff", "zero"}
    for style, r in rows.items():
        assert r["status"] == "ok", (style, r["status"])
        assert r["ranks"] == 1 and r["steps"] == 5 and r["atoms"] > 100
        assert len(r["loop_times_s"]) == 2
        per = [t / (r["steps"] * r["atoms"]) * 1e6 for t in r["loop_times_s"]]
        assert r["us_per_atom_step_min"] == pytest.approx(min(per))
        assert r["us_per_atom_step_median"] == pytest.approx(sorted(per)[0] / 2 + sorted(per)[1] / 2)
        assert 0 < r["us_per_atom_step_min"] <= r["us_per_atom_step_median"] < 1e4
        step_s = (r["loop_times_s"][0] + r["loop_times_s"][1]) / 2 / r["steps"]
        assert r["ns_per_day"] == pytest.approx(86400 / step_s * 1e-6)
        assert r["memory_mb_per_rank"] > 0 and r["max_rss_mb"] > 0
        assert all(math.isfinite(x) for x in per)
        # NVE at 600 K (tethered): the total energy holds over the timed runs
        assert abs(r["nve_energy_drift_ev_per_atom"]) < bench.NVE_DRIFT_LIMIT_EV_PER_ATOM
        assert 100 < r["temperature_range_k"][0] <= r["temperature_range_k"][1] < 1200
    tn, ts, zero = rows["tinynet"], rows["tersoff"], rows["zero"]
    assert ts["time_vs_tersoff"] == pytest.approx(1.0)
    assert tn["time_vs_tersoff"] == pytest.approx(tn["us_per_atom_step_median"] / ts["us_per_atom_step_median"])
    assert tn["memory_vs_tersoff"] == pytest.approx(tn["memory_mb_per_rank"] / ts["memory_mb_per_rank"])
    assert tn["rss_vs_tersoff"] == pytest.approx(tn["max_rss_mb"] / ts["max_rss_mb"])
    assert tn["rss_above_baseline_mb"] == pytest.approx(tn["max_rss_mb"] - zero["max_rss_mb"], abs=0.11)
    assert tn["speedup_vs_1_rank"] is None  # one rank count only
    assert "random" in tn["label"] and tn["potential"].endswith(".tinynet")
    assert any("RANDOM-weight" in n for n in data["notes"])


def test_descriptor_study_quick(tmp_path):
    study = bench.descriptor_study(cells=2, repeats=1, quick=True, workdir=tmp_path, log=lambda s: None)
    kinds = {r["study"] for r in study["rows"]}
    assert kinds == {"moments_n_max", "moments_bond_cut", "radial_cutoff", "preset", "block"}
    # every block type of the format is timed
    from tinynet.blocks import BLOCK_TYPES

    assert {r["descriptor"]["blocks"][0]["type"] for r in study["rows"] if r["study"] == "block"} == set(BLOCK_TYPES)
    for r in study["rows"]:
        assert r["fwd_us"] > 0 and r["total_us"] > 0 and r["n_features"] > 0
        assert r["bwd_us"] == pytest.approx(r["fwd_bwd_us"] - r["fwd_us"])
        assert r["network_us"] == pytest.approx(r["total_us"] - r["fwd_bwd_us"])
    n_max = [r for r in study["rows"] if r["study"] == "moments_n_max"]
    assert [r["n_features"] for r in n_max] == [(r["param"] - 1) * 2 for r in n_max]
    assert "fwd+bwd" in bench.format_descriptor_table(study)


def test_relative_potential_path_with_a_work_directory(tmp_path, monkeypatch):
    """LAMMPS runs in the work directory: a potential named relative to where
    the user is must still be found."""
    import shutil

    from conftest import REPO

    shutil.copy(REPO / "potentials" / "Si.tinynet", tmp_path / "mine.tinynet")
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "bench.json"
    args = parse(["--atoms-scale", "0.03", "--repeats", "1", "--steps", "3", "--min-steps", "2", "--target-time", "0",
                  "--ranks", "1", "--styles", "tinynet", "--systems", "si", "--no-memory-baseline",
                  "--si-potential", "mine.tinynet", "--json", str(out), "--workdir", "work"])
    assert bench.run(args) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["status"] == "ok", row["status"]
    assert row["potential"] == str(tmp_path / "mine.tinynet")
