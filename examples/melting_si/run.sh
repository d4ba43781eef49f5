#!/usr/bin/env bash
# The whole example: SW data (crystal to 2100 K, liquid) -> tinynet training
# -> heating ramps of SW and tinynet in one LAMMPS run -> melting temperatures.
#   ./run.sh [training minutes, default 4]
set -euo pipefail
cd "$(dirname "$0")"
BIN=../../.venv/bin
MINUTES=${1:-4}
SW=$($BIN/python -c "from tinynet.lammps_support import lammps_potentials_dir as d; print(d() / 'Si.sw')")

$BIN/python -m tinynet.sw_reference sw_si_melt.extxyz --pure 0 --shifted 0 --rattled 20 \
    --max-strain 0.02 --rattle 0.03 --temperatures 300 900 1500 2100 --thermal-strains -0.02 0 0.02 \
    --samples 8 --liquid 1800 2500 3200
$BIN/tinynet train sw_si_melt.extxyz -o Si_sw_melt.tinynet --config train_config.json --max-time "$MINUTES" \
    --no-progress --no-plots
$BIN/lmp -in in.melt -var potential Si_sw_melt.tinynet -var sw_file "$SW" -log log.melt > /dev/null
$BIN/python analyse_melting.py melt_sw.dat melt_tinynet.dat
