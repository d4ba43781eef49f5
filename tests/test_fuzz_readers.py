"""One validation, two readers: the C++ reader (LAMMPS, the calculator) and
the Python reader accept and reject exactly the same files of a seeded
hostile corpus (tests/fuzz_potential_files.py), every rejection names the
file, and every accepted file gives finite energies, forces and stress.
The same for LDOS model files, whose network section the same readers
check (core/src/network_reader.cpp, tinynet.network_file)."""

from __future__ import annotations

import collections

import numpy as np
import pytest
from ase.build import bulk
from fuzz_potential_files import make_corpus

from tinynet import _core
from tinynet.calculator import TinyNetCalculator
from tinynet.ldos_file import read_ldos_model
from tinynet.potential_file import read_potential
from tinynet.validation import PotentialFileError

N_FILES = 400


def structure(base):
    """A small rattled structure with the elements of the corpus' base file."""
    atoms = bulk("Si", "diamond", 5.43, cubic=True)
    atoms.rattle(0.05, seed=1)
    if base.startswith("SiO"):
        atoms.symbols[[1, 4]] = "O"
    return atoms


def verdict(read, path):
    """("accept", "") or ("reject", message); any other exception propagates."""
    try:
        read(path)
    except PotentialFileError as exc:
        return "reject", str(exc)
    return "accept", ""


def finite_results(path, base):
    atoms = structure(base)
    atoms.calc = TinyNetCalculator(path)
    e, f, s = atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()
    return np.isfinite(e) and np.all(np.isfinite(f)) and np.all(np.isfinite(s))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    files = make_corpus(tmp_path_factory.mktemp("fuzz"), N_FILES)
    verdicts = []
    for path, mutation, base in files:
        py = verdict(read_potential, path)
        cpp = verdict(lambda p: _core.Potential(str(p)), path)
        verdicts.append((path, mutation, base, py, cpp))
    return verdicts


def test_corpus_is_reproducible_and_varied(corpus, tmp_path):
    again = make_corpus(tmp_path, N_FILES)
    assert [p.read_bytes() for p, *_ in again[:50]] == [p.read_bytes() for p, *_ in corpus[:50]]
    counts = collections.Counter((mutation, py[0]) for _, mutation, _, py, _ in corpus)
    accepted = sum(n for (_, v), n in counts.items() if v == "accept")
    # both outcomes well represented, and every mutation kind used
    assert 0.2 * N_FILES < accepted < 0.7 * N_FILES, counts
    assert len({m for m, _ in counts}) == 23


def test_readers_agree_on_every_file(corpus):
    disagree = [(p.name, py, cpp) for p, _, _, py, cpp in corpus if py[0] != cpp[0]]
    assert not disagree


def test_every_rejection_names_the_file(corpus):
    for path, _, _, py, cpp in corpus:
        for outcome, message in (py, cpp):
            if outcome == "reject":
                assert message.startswith(f"{path}: "), message


def test_calculator_raises_the_file_error(corpus):
    for path, _, _, py, _ in corpus:
        if py[0] == "reject":
            with pytest.raises(PotentialFileError, match=f"^{path}: "):
                TinyNetCalculator(path)


def test_accepted_files_give_finite_results(corpus):
    """Bounds on the parameters this reader owns (network, normalisation,
    cutoff, repulsion) keep evaluation finite."""
    checked = 0
    for path, mutation, base, py, _ in corpus:
        if py[0] == "accept" and mutation != "block_extreme":
            assert finite_results(path, base), path.name
            checked += 1
    assert checked > 0.2 * N_FILES


def test_accepted_block_extremes_give_finite_results(corpus):
    bad = []
    for path, mutation, base, py, _ in corpus:
        if py[0] == "accept" and mutation == "block_extreme":
            try:
                if not finite_results(path, base):
                    bad.append(path.name)
            except RuntimeError:    # the core's non-finite guard
                bad.append(path.name)
    assert not bad, bad


@pytest.mark.parametrize("data", [
    b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}",
    '{"format": "tinynet-potential", "x": "\xe9"}'.encode("latin-1"),
    b"\xef\xbb\xbf{}",
], ids=["100000-deep", "latin-1", "bom"])
def test_calculator_never_raises_a_raw_error(tmp_path, data):
    path = tmp_path / "hostile.tinynet"
    path.write_bytes(data)
    with pytest.raises(PotentialFileError, match=f"^{path}: "):
        TinyNetCalculator(path)


# ------------------------------------------------------------ LDOS model files


@pytest.fixture(scope="module")
def ldos_corpus(tmp_path_factory):
    files = make_corpus(tmp_path_factory.mktemp("fuzz_ldos"), N_FILES, kind="ldos")
    return [(path, mutation, base, verdict(read_ldos_model, path),
             verdict(lambda p: _core.LdosModel(str(p)), path)) for path, mutation, base in files]


def test_ldos_readers_agree_on_every_file(ldos_corpus):
    disagree = [(p.name, py, cpp) for p, _, _, py, cpp in ldos_corpus if py[0] != cpp[0]]
    assert not disagree
    for path, _, _, py, cpp in ldos_corpus:
        for outcome, message in (py, cpp):
            if outcome == "reject":
                assert message.startswith(f"{path}: "), message


def test_ldos_network_bounds_are_exercised(ldos_corpus):
    """The network mutations hit the shared bounds: some files pass, some are
    refused for an oversized parameter, too many layers or a tiny spread."""
    outcomes = collections.Counter((m, py[0]) for _, m, _, py, _ in ldos_corpus
                                   if m in ("network_extreme", "extra_layers"))
    assert all(outcomes[(m, v)] > 0 for m in ("network_extreme", "extra_layers") for v in ("accept", "reject"))
    messages = " ".join(py[1] for _, m, _, py, _ in ldos_corpus if m in ("network_extreme", "extra_layers"))
    for bound in ("magnitude exceeds the maximum", "more than 16 layers", "below the floor"):
        assert bound in messages


def test_accepted_ldos_files_give_finite_results(ldos_corpus):
    checked = 0
    for path, mutation, base, py, _ in ldos_corpus:
        if py[0] == "accept" and mutation != "block_extreme":
            atoms = structure(base)
            atoms.calc = TinyNetCalculator(path)
            assert np.all(np.isfinite(atoms.calc.get_property("ldos", atoms))), path.name
            checked += 1
    assert checked > 0.2 * N_FILES
