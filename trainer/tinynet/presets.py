"""Descriptor presets and the training configuration schema.

Presets follow the seed paper's naming ``L<n>(<N>)``: cycle ("moments")
features for closed walks up to length n over the bond graph, plus an
angular neighbour density (EANN) out to the N-th neighbour shell.  The
contents come from the descriptor study (docs/descriptor_study.md): an EANN
density gave the most accuracy per microsecond on mlearn Si, the moments
add what a finite cutoff cannot see.

Lengths come from the training data's pair-distance distribution, per
element pair (tinynet.bond_lengths): the bond graph joins bonded pairs only,
with each pair's bond cutoff at the first minimum of g_AB(r) after its first
peak and its hopping referred to that peak; the neighbour-density cutoff
covers the N-th shell of the longest bond, and at least 5 A, so that a
molecular or layered system still sees its neighbouring molecules.

Built-in presets (b = longest bond, first peak; Si values in brackets)::

  L4(2)  moments: n_max 4, decay lengths [0.5, 1.0] A     -> 3*2*S features
         eann   : cutoff max(1.85 b, 5 A) [5.0], 6 Gaussian centres
                  from 0.75 x the shortest bond, l_max 2  -> 6*3*S features
  L6(4)  moments: n_max 6, decay lengths [0.4, 0.8, 1.6] A -> 5*3*S features
         eann   : cutoff max(2.45 b, 5 A) [5.82], 8 centres, l_max 3
                                                          -> 8*4*S features

(S = number of species; bond cutoffs [3.135 A for Si] and reference lengths
per pair.)  Any ``L<n>(<N>)`` with 2 <= n <= 8 and 1 <= N <= 5 is accepted;
the tables below give the values for other n and N.

Configuration files are JSON (or YAML when PyYAML is installed).  Every key
is checked: an unknown key or a value of the wrong type is a
:class:`ConfigError` naming it.  See :data:`DEFAULTS` for all keys.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
import re

from tinynet.bond_lengths import BondScales


class ConfigError(Exception):
    """Invalid configuration: names the offending key."""


# --------------------------------------------------------------------------
# presets

# neighbour-density cutoff, in units of the bond length b, for "out to the
# N-th shell" (diamond shells are at 1, 1.63, 1.91, 2.31, 2.52 b; fcc at
# 1, 1.41, 1.73, 2, 2.24 b), and never below MIN_NEIGHBOUR_CUTOFF
SHELL_CUTOFF = {1: 1.35, 2: 1.85, 3: 2.1, 4: 2.45, 5: 2.7}
MIN_NEIGHBOUR_CUTOFF = 5.0
DENSITY_CENTRES = {1: 6, 2: 6, 3: 8, 4: 8, 5: 10}
DENSITY_L_MAX = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3}
DECAY_LENGTHS = {2: [0.5, 1.0], 3: [0.5, 1.0], 4: [0.5, 1.0],
                 5: [0.4, 0.8, 1.6], 6: [0.4, 0.8, 1.6], 7: [0.4, 0.8, 1.6], 8: [0.4, 0.8, 1.6]}
CENTRE_START_FACTOR = 0.75     # first Gaussian at 0.75 x the shortest bond
EANN_BETA = 0.2                # Gaussian width rule: alpha = beta / spacing^2

PRESET_NAMES = ("L4(2)", "L6(4)")
DEFAULT_PRESET = "L4(2)"

_PRESET_RE = re.compile(r"^\s*L\s*(\d+)\s*\(\s*(\d+)\s*\)\s*$", re.IGNORECASE)


def parse_preset(name: str):
    m = _PRESET_RE.match(str(name))
    if not m:
        raise ConfigError(f"preset: unknown preset {name!r}; expected L<n>(<N>), e.g. "
                          + " or ".join(PRESET_NAMES))
    n, shells = int(m.group(1)), int(m.group(2))
    if not 2 <= n <= 8:
        raise ConfigError(f"preset: cycle length n={n} in {name!r} must be 2..8")
    if shells not in SHELL_CUTOFF:
        raise ConfigError(f"preset: shell count N={shells} in {name!r} must be 1..5")
    return n, shells


def neighbour_cutoff(bond: float, shells: int = 2) -> float:
    """Cutoff of neighbour-sum blocks: past the `shells`-th shell of a bond of
    length `bond` and at least 5 A, as peers use."""
    return max(round(SHELL_CUTOFF[shells] * bond, 3), MIN_NEIGHBOUR_CUTOFF)


def gaussian_centres(start: float, cutoff: float, count: int):
    """`count` evenly spaced Gaussian centres from `start` and EANN's width rule."""
    spacing = (cutoff - start) / count
    return [round(start + k * spacing, 4) for k in range(count)], round(EANN_BETA / spacing**2, 4)


def walk_lengths(scales: BondScales):
    """bond_cutoff and r0 of the walk blocks: numbers for one element, else
    per pair, with 0 (never bonded) for pairs that are not bonds."""
    if len(scales.elements) == 1:
        (shell,) = scales.pairs.values()
        return shell.minimum, shell.peak
    cut = {k: (s.minimum if s.bonded else 0.0) for k, s in scales.pairs.items()}
    r0 = {k: (s.peak if s.bonded else scales.shortest_bond()) for k, s in scales.pairs.items()}
    return cut, r0


def make_preset(name: str, scales) -> dict:
    """Explicit descriptor dict for preset `name`; `scales` is the data's
    BondScales, or one nearest-neighbour distance d1 (A) for every pair."""
    n, shells = parse_preset(name)
    if not isinstance(scales, BondScales):
        if not (isinstance(scales, (int, float)) and scales > 0 and math.isfinite(scales)):
            raise ConfigError(f"preset: invalid nearest-neighbour distance {scales}")
        scales = BondScales.uniform(round(float(scales), 3))
    cutoff = neighbour_cutoff(scales.longest_bond(), shells)
    centres, alpha = gaussian_centres(CENTRE_START_FACTOR * scales.shortest_bond(), cutoff,
                                      DENSITY_CENTRES[shells])
    bond_cutoff, r0 = walk_lengths(scales)
    return {"blocks": [
        {"type": "moments", "n_max": n, "bond_cutoff": bond_cutoff, "r0": r0,
         "decay_lengths": list(DECAY_LENGTHS[n])},
        {"type": "eann", "cutoff": cutoff, "centers": centres, "alpha": alpha,
         "l_max": DENSITY_L_MAX[shells]},
    ]}


# --------------------------------------------------------------------------
# configuration schema

DEFAULTS = {
    "preset": DEFAULT_PRESET,      # used when "descriptor" is null
    "descriptor": None,            # explicit {"blocks": [...]} (overrides preset)
    "elements": None,              # element list; default: those in the training data
    "network": {
        "hidden": [16, 32],
        "activation": "tanh",
    },
    "loss": {
        "energy_weight": 1.0,      # on (eV/atom)^2
        "force_weight": 0.01,      # on (eV/A)^2 per component
        "stress_weight": 0.0,      # on (GPa)^2 per component (frames with stress)
    },
    "training": {
        "epochs": 2000,
        "learning_rate": 0.01,
        "lr_decay_epochs": 500,    # learning rate halves every this many epochs ...
        "min_learning_rate": 1e-4,  # ... down to this floor
        "batch_size": 0,           # structures per batch; 0 = automatic (full batch up to 30 000 atoms)
        "patience": 400,           # early stopping: epochs without validation improvement
        "validation_fraction": 0.1,  # of the training structures, for early stopping
        "test_fraction": 0.2,      # held-out test split when no test data is given
        "seed": 0,
        "checkpoint_every": 25,    # epochs between checkpoints
        "dtype": "float32",        # "float32" (2x faster) or "float64"; export is float64 either way
        "max_time_minutes": 0.0,   # 0 = no limit
        "lbfgs_iterations": 0,     # L-BFGS refinement after Adam, on the whole fitting set; 0 = none
        "lbfgs_time_fraction": 0.3,  # share of max_time_minutes given to the L-BFGS stage
    },
}

_NUM = (int, float)


def _is_num(v):
    return isinstance(v, _NUM) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _check(cond, key, msg):
    if not cond:
        raise ConfigError(f"{key}: {msg}")


def _unknown(key, valid, where):
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    path = f"{where}.{key}" if where else key
    raise ConfigError(f"{path}: unknown key{hint}; valid keys: {', '.join(sorted(valid))}")


def _check_keys(d, valid, where):
    _check(isinstance(d, dict), where or "config", f"expected a mapping, got {type(d).__name__}")
    for k in d:
        if k not in valid:
            _unknown(k, valid, where)


def validate_descriptor(desc, where="descriptor") -> dict:
    """Check a descriptor section with the same block specs as the potential
    file (tinynet.blocks); unknown keys get a "did you mean" hint."""
    from tinynet.blocks import BLOCK_TYPES, check_block
    from tinynet.validation import PotentialFileError

    _check_keys(desc, {"blocks"}, where)
    _check("blocks" in desc, where, "missing key 'blocks'")
    blocks = desc["blocks"]
    _check(isinstance(blocks, list) and blocks, f"{where}.blocks", "expected a non-empty list")
    for i, b in enumerate(blocks):
        w = f"{where}.blocks[{i}]"
        spec = BLOCK_TYPES.get(b.get("type")) if isinstance(b, dict) else None
        if spec is not None:
            _check_keys(b, {"type", *spec.required, *spec.optional}, w)
        try:
            check_block("config", w, b)
        except PotentialFileError as exc:
            raise ConfigError(f"{exc.field}: {exc.detail}") from None
    return copy.deepcopy({"blocks": blocks})


def _validate_section(user, defaults, where):
    _check_keys(user, set(defaults), where)
    out = copy.deepcopy(defaults)
    for k, v in user.items():
        key = f"{where}.{k}"
        d = defaults[k]
        if k == "hidden":
            _check(isinstance(v, list) and v and all(_is_int(x) and x > 0 for x in v), key,
                   f"expected a non-empty list of positive integers, got {v!r}")
        elif k == "activation":
            _check(v in ("tanh",), key, f"only 'tanh' is supported, got {v!r}")
        elif k == "dtype":
            _check(v in ("float32", "float64"), key, f"expected 'float32' or 'float64', got {v!r}")
        elif _is_int(d):
            _check(_is_int(v) and v >= 0, key, f"expected a non-negative integer, got {v!r}")
        elif isinstance(d, float):
            _check(_is_num(v) and v >= 0, key, f"expected a non-negative number, got {v!r}")
            v = float(v)
        out[k] = v
    if where == "training":
        for k in ("validation_fraction", "test_fraction", "lbfgs_time_fraction"):
            _check(out[k] < 1.0, f"training.{k}", f"must be below 1, got {out[k]}")
        _check(out["learning_rate"] > 0, "training.learning_rate", "must be positive")
        _check(out["lr_decay_epochs"] > 0, "training.lr_decay_epochs", "must be positive")
        _check(out["checkpoint_every"] > 0, "training.checkpoint_every", "must be positive")
    return out


def validate_config(user: dict | None) -> dict:
    """Merge ``user`` over :data:`DEFAULTS`, checking every key and type."""
    user = {} if user is None else user
    _check_keys(user, set(DEFAULTS), "")
    cfg = copy.deepcopy(DEFAULTS)
    for k, v in user.items():
        if k in ("network", "loss", "training"):
            cfg[k] = _validate_section(v, DEFAULTS[k], k)
        elif k == "preset":
            _check(isinstance(v, str), "preset", f"expected a string, got {v!r}")
            parse_preset(v)
            cfg[k] = v
        elif k == "descriptor":
            cfg[k] = None if v is None else validate_descriptor(v)
        elif k == "elements":
            if v is not None:
                from ase.data import chemical_symbols
                _check(isinstance(v, list) and v, "elements", "expected a non-empty list of element symbols")
                for i, s in enumerate(v):
                    _check(isinstance(s, str) and s in chemical_symbols[1:], f"elements[{i}]",
                           f"not an element symbol: {s!r}")
                _check(len(set(v)) == len(v), "elements", "duplicate element")
            cfg[k] = v
    return cfg


def load_config(path: str) -> dict:
    """Read a JSON (or YAML, if PyYAML is installed) configuration file and validate it."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from exc
    ext = os.path.splitext(path)[1].lower()
    if ext in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(f"{path}: YAML config needs PyYAML, which is not installed; use JSON")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    try:
        return validate_config(data if data is not None else {})
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
