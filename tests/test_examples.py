"""Documentation and examples: generated pages match the code, links resolve,
and every example input runs (shortened) in the environment's LAMMPS."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

from tinynet import docgen
from tinynet.lammps_support import lammps_potentials_dir, lmp_executable, subprocess_env

EXAMPLES = REPO / "examples"


# --------------------------------------------------------------------------
# generated reference pages

@pytest.mark.parametrize("page", sorted(docgen.PAGES))
def test_generated_page_is_current(page):
    committed = (REPO / "docs" / page).read_text()
    assert committed == docgen.PAGES[page]() + "\n", (
        f"docs/{page} differs from the code; run: .venv/bin/python -m tinynet.docgen")


def test_config_page_covers_every_key_and_block():
    from tinynet.blocks import BLOCK_TYPES
    from tinynet.presets import DEFAULTS

    text = docgen.config_markdown()
    for section, values in DEFAULTS.items():
        assert f"| `{section}` |" in text
        if isinstance(values, dict):
            for key in values:
                assert f"| `{section}.{key}` |" in text
    for btype, spec in BLOCK_TYPES.items():
        assert f"### `{btype}`" in text
        for param in (*spec.required, *spec.optional):
            assert f"| `{param}` |" in text


def test_undocumented_config_key_is_an_error(monkeypatch):
    from tinynet import presets

    monkeypatch.setitem(presets.DEFAULTS["training"], "new_option", 1)
    with pytest.raises(docgen.DocError, match="training.new_option"):
        docgen.config_markdown()


def test_undocumented_block_parameter_is_an_error(monkeypatch):
    from tinynet.blocks import BLOCK_TYPES

    spec = BLOCK_TYPES["radial"]
    monkeypatch.setattr(type(spec), "optional", {"width_scale": 1.0})
    with pytest.raises(docgen.DocError, match="radial"):
        docgen.config_markdown()


def test_cli_page_lists_every_command():
    from tinynet.cli import COMMANDS

    text = docgen.cli_markdown()
    for name in COMMANDS:
        assert f"## `tinynet {name}`" in text


# --------------------------------------------------------------------------
# links

def _markdown_files():
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
             *sorted(EXAMPLES.rglob("README.md")), REPO / "potentials" / "README.md"]
    return [f for f in files if f.exists()]


LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("md", _markdown_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve_inside_the_repository(md):
    for target in LINK.findall(md.read_text()):
        if re.match(r"^[a-z]+://", target) or target.startswith("#"):
            continue
        path = (md.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{md.relative_to(REPO)}: link to missing {target}"
        assert REPO in path.parents or path == REPO, f"{md.relative_to(REPO)}: link leaves the repository: {target}"


def test_readme_does_not_send_users_outside_the_repository():
    text = (REPO / "README.md").read_text()
    assert "../shared" not in text
    for doc in ("docs/design.md", "docs/pair_tinynet.md", "docs/potential_file.md", "docs/config.md",
                "docs/cli.md", "examples/README.md"):
        assert f"]({doc})" in text, f"README.md does not link {doc}"


def test_every_example_has_a_readme_with_its_numbers():
    folders = sorted(p for p in EXAMPLES.iterdir() if p.is_dir())
    assert len(folders) >= 6
    index = (EXAMPLES / "README.md").read_text()
    for folder in folders:
        readme = folder / "README.md"
        assert readme.exists(), f"{folder.name}: no README.md"
        text = readme.read_text()
        assert "minutes" in text or "min " in text or " s " in text, f"{readme}: no run time"
        assert f"]({folder.name}/" in index or f"]({folder.name})" in index, f"examples/README.md misses {folder.name}"


# --------------------------------------------------------------------------
# every example input runs, shortened

def _run_lmp(workdir, script, variables, expect):
    cmd = [lmp_executable(), "-in", script, "-log", "log.lammps"]
    for name, value in variables.items():
        cmd += ["-var", name, *str(value).split()]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=subprocess_env(), timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{script} failed:\n{out[-3000:]}"
    lines = [line for line in out.splitlines() if line.startswith(expect)]
    assert lines, f"{script}: no '{expect}' line in the output:\n{out[-3000:]}"
    return lines


def _copy_example(name, tmp_path):
    work = tmp_path / name
    shutil.copytree(EXAMPLES / name, work)
    return work


def _sw():
    return str(lammps_potentials_dir() / "Si.sw")


def test_example_si_md(tmp_path):
    work = _copy_example("si_md", tmp_path)
    _run_lmp(work, "in.si_md", {"potential": REPO / "potentials/Si.tinynet", "cells": 2, "steps": 20}, "Loop time")


def test_example_srtio3(tmp_path):
    work = _copy_example("srtio3_md", tmp_path)
    (line,) = _run_lmp(work, "in.srtio3_md", {"potential": REPO / "potentials/SrTiO3.tinynet", "cells": 2,
                                               "equil": 20, "steps": 20}, "SRTIO3")
    a = float(re.search(r"a = ([\d.]+) A", line).group(1))
    assert 3.8 < a < 4.1
    assert (work / "rdf_srtio3.dat").exists()


def test_example_thermal_expansion(tmp_path):
    work = _copy_example("thermal_expansion_si", tmp_path)
    lines = _run_lmp(work, "in.thermal_expansion",
                     {"potential": REPO / "potentials/Si.tinynet", "cells": 2, "equil": 10, "steps": 20,
                      "models": "tinynet sw", "sw_file": _sw()}, "LATTICE")
    assert len(lines) == 2 * 5          # 0 K and four temperatures, two models
    sw0 = next(line for line in lines if line.startswith("LATTICE sw T 0 "))
    assert abs(float(sw0.split()[5]) - 5.431) < 1e-3      # SW's own lattice constant


def test_example_vacancy(tmp_path):
    work = _copy_example("vacancy_phonons_si", tmp_path)
    (line,) = _run_lmp(work, "in.vacancy", {"potential": REPO / "potentials/Si.tinynet", "cells": 2}, "VACANCY")
    e_f = float(re.search(r"E_f = ([-\d.]+) eV", line).group(1))
    assert 1.0 < e_f < 6.0


def test_example_phonons(tmp_path):
    work = _copy_example("vacancy_phonons_si", tmp_path)
    proc = subprocess.run([sys.executable, "phonons.py", "--potential", str(REPO / "potentials/Si.tinynet"),
                           "--supercell", "2", "--kpts", "6", "--no-plot"], cwd=work, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    gamma = next(line for line in proc.stdout.splitlines() if line.startswith("G:"))
    freqs = [float(x) for x in gamma.split()[1:-1]]
    assert max(abs(f) for f in freqs[:3]) < 0.05          # acoustic modes at Gamma
    assert 10 < freqs[-1] < 20                              # optical mode, THz


def test_example_elastic_and_moduli(tmp_path, si_potential):
    work = _copy_example("elastic_si", tmp_path)
    lines = _run_lmp(work, "in.elastic_0K", {"potential": si_potential, "sw_file": _sw()}, "ELASTIC_0K")
    sw = next(line for line in lines if line.startswith("ELASTIC_0K sw "))
    c11, c12, c44 = (float(re.search(rf"{k} ([-\d.]+)", sw).group(1)) for k in ("C11", "C12", "C44"))
    # SW's published values (Stillinger-Weber 1985 parameters): 151.4, 76.4, 56.4 GPa
    assert abs(c11 - 151.4) < 0.5 and abs(c12 - 76.4) < 0.5 and abs(c44 - 56.4) < 0.5
    assert len(lines) == 2
    lines = _run_lmp(work, "in.moduli_300K", {"potential": si_potential, "sw_file": _sw(), "cells": 2,
                                              "equil": 10, "steps": 20}, "MODULI_300K")
    assert len(lines) == 4                # B, then the C_ij line, for both models


def test_example_melting(tmp_path, si_potential):
    work = _copy_example("melting_si", tmp_path)
    _run_lmp(work, "in.melt", {"potential": si_potential, "sw_file": _sw(), "cells": 2, "steps": 2000,
                               "models": "sw"}, "Loop time")
    proc = subprocess.run([sys.executable, "analyse_melting.py", "melt_sw.dat"], cwd=work,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "melt_sw.dat" in proc.stdout
