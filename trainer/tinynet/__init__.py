"""tinynet: machine-learning interatomic potentials that run in LAMMPS at
close to analytic-potential cost.

Modules: descriptors (C++ core binding), potential_file (the .tinynet file),
training / evaluation (TensorFlow trainer and metrics), calculator (ASE),
lammps_support (running LAMMPS with the plugin), cli (the `tinynet` command).
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `import tinynet` stays cheap (no TensorFlow, no ASE calculators).
    if name == "TinyNetCalculator":
        from tinynet.calculator import TinyNetCalculator

        return TinyNetCalculator
    raise AttributeError(name)
