#!/usr/bin/env bash
# The whole example: SW reference data -> tinynet training -> elastic
# constants at 0 K and moduli at 300 K of tinynet and SW, in the same inputs.
#   ./run.sh [training minutes, default 5] [MPI ranks for the MD, default 2]
set -euo pipefail
cd "$(dirname "$0")"
BIN=../../.venv/bin
MINUTES=${1:-5}
RANKS=${2:-2}
SW=$($BIN/python -c "from tinynet.lammps_support import lammps_potentials_dir as d; print(d() / 'Si.sw')")

$BIN/python -m tinynet.sw_reference sw_si.extxyz
$BIN/tinynet train sw_si.extxyz -o Si_sw.tinynet --config train_config.json --max-time "$MINUTES" --no-progress
$BIN/lmp -in in.elastic_0K -var potential Si_sw.tinynet -var sw_file "$SW" -log log.elastic_0K | grep ELASTIC_0K
$BIN/mpirun -np "$RANKS" $BIN/lmp -in in.moduli_300K -var potential Si_sw.tinynet -var sw_file "$SW" \
    -log log.moduli_300K | grep MODULI_300K
