"""Domain decomposition: 1, 2 and 4 MPI ranks (real mpirun + lmp) agree.

In the "slab" layout the upper half of the ranks own no atom at all. lmp
finds the plugin by itself (no `plugin load` line).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tinynet.lammps_support import lmp_executable, mpirun_executable, subprocess_env

# The system is made once and read by every run, so atom ids (which
# create_atoms assigns in a rank-dependent order) mean the same atoms.
MAKE_SYSTEM = """
units metal
atom_style atomic
lattice diamond 5.43
region box prism 0 4 0 3 0 {zhi} 0.4 -0.3 0.2
create_box 2 box
region atoms block 0 4 0 3 0.1 2.4
create_atoms 1 region atoms
set type 1 type/fraction 2 0.4 12345
mass 1 28.0855
mass 2 72.63
displace_atoms all random 0.15 0.15 0.15 4321
velocity all create 600 8765 mom yes rot yes dist gaussian
write_data {data}
"""

INPUT = """
units metal
atom_style atomic
atom_modify map array
{processors}
read_data {data}
compute owner all property/atom proc
pair_style tinynet
pair_coeff * * {potential} Si Ge
timestep 0.001
fix integrate all nve
thermo_style custom step pe etotal press
run 0
print "STEP0 $(pe:%.17g) $(press:%.17g)"
write_dump all custom {dump0} id fx fy fz c_owner modify sort id format float %.17g
run 20
print "STEP20 $(pe:%.17g) $(etotal:%.17g)"
write_dump all custom {dump20} id x y z fx fy fz modify sort id format float %.17g
"""


def make_system(tmp_path, layout):
    from tinynet.lammps_support import open_lammps

    data = tmp_path / f"{layout}.data"
    zhi = 5 if layout == "slab" else 3  # slab: atoms only in the lower half of z
    lmp = open_lammps()
    lmp.commands_string(MAKE_SYSTEM.format(zhi=zhi, data=data))
    lmp.close()
    return data


def run_lammps(tmp_path, potential, ranks, layout, data):
    tag = f"{layout}{ranks}"
    processors = {"default": "", "slab": f"processors 1 1 {ranks}"}[layout]
    inp = tmp_path / f"in.{tag}"
    inp.write_text(
        INPUT.format(
            data=data,
            processors=processors,
            potential=potential,
            dump0=tmp_path / f"{tag}.0.dump",
            dump20=tmp_path / f"{tag}.20.dump",
        )
    )
    cmd = [mpirun_executable(), "-np", str(ranks), lmp_executable(), "-in", str(inp), "-log", "none"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=subprocess_env(), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    values = {}
    for line in proc.stdout.splitlines():
        if line.startswith(("STEP0 ", "STEP20 ")):
            key, *nums = line.split()
            values[key] = np.array([float(v) for v in nums])
    dumps = [np.loadtxt(tmp_path / f"{tag}.{s}.dump", skiprows=9) for s in (0, 20)]
    return values, dumps, proc.stdout


@pytest.mark.parametrize("layout", ["default", "slab"])
def test_ranks_agree(tmp_path, sige_potential, layout):
    data = make_system(tmp_path, layout)
    reference, ref_dumps, _ = run_lammps(tmp_path, sige_potential, 1, layout, data)
    for ranks in (2, 4):
        values, dumps, stdout = run_lammps(tmp_path, sige_potential, ranks, layout, data)
        owners = set(dumps[0][:, 4].astype(int))
        if layout == "slab":
            # atoms fill the lower half of z only: the upper ranks own none
            assert owners == ({0} if ranks == 2 else {0, 1})
        else:
            assert owners == set(range(ranks))
        assert values["STEP0"] == pytest.approx(reference["STEP0"], rel=1e-10)
        f_ref, f = ref_dumps[0][:, 1:4], dumps[0][:, 1:4]
        assert np.array_equal(ref_dumps[0][:, 0], dumps[0][:, 0])
        assert np.abs(f - f_ref).max() < 1e-10 * np.abs(f_ref).max()
        # 20 MD steps later the trajectories still agree
        assert values["STEP20"] == pytest.approx(reference["STEP20"], rel=1e-10)
        x_ref, x = ref_dumps[1][:, 1:4], dumps[1][:, 1:4]
        assert np.abs(x - x_ref).max() < 1e-8
