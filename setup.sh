#!/usr/bin/env bash
# One command from a fresh clone to a working tinynet:
#   1. the environment in .venv/ (LAMMPS with MPICH, TensorFlow, ASE, ...),
#   2. the C++ core, its Python binding and the LAMMPS plugin (CMake),
#   3. the tinynet package (editable), which lets .venv/bin/lmp find
#      pair_style tinynet without a `plugin load` line,
#   4. the demo: train a small potential on data it generates, run MD with it.
# Usage: ./setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")"

run_demo=1
for arg in "$@"; do
  case "$arg" in
    --no-demo) run_demo=0 ;;
    *) echo "usage: $0 [--no-demo]" >&2; exit 2 ;;
  esac
done

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PYTHON" -m venv .venv
fi
echo "== installing dependencies"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt

echo "== building the C++ core, Python binding and LAMMPS plugin"
.venv/bin/cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$PWD/.venv/bin/python" \
  -DCMAKE_CXX_COMPILER="$PWD/.venv/bin/mpicxx" > build.log 2>&1 || { cat build.log; exit 1; }
.venv/bin/cmake --build build -j "$(nproc)" >> build.log 2>&1 || { cat build.log; exit 1; }

echo "== installing the tinynet package"
.venv/bin/python -m pip install --quiet --no-build-isolation --no-deps -e .

echo "plugin list" > build/plugin_check.in
plugins=$(cd build && ../.venv/bin/lmp -in plugin_check.in -log none 2>&1) || true
if ! grep -q "pair style plugin tinynet" <<< "$plugins"; then
  echo "$plugins" >&2
  echo "error: .venv/bin/lmp does not find pair_style tinynet" >&2
  exit 1
fi
echo "== ready: .venv/bin/lmp knows pair_style tinynet; .venv/bin/tinynet is the CLI"

if [ "$run_demo" = 1 ]; then
  echo "== running the demo (tinynet demo)"
  .venv/bin/tinynet demo
fi
