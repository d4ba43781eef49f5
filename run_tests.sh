#!/usr/bin/env bash
# The test command: builds what is missing or stale, then runs the whole suite
# (real LAMMPS, real mpirun, real TensorFlow). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv/bin/python ] || [ ! -d build ]; then
  ./setup.sh --no-demo
else
  # (one build at a time: several shells may share this work tree)
  flock build/.lock .venv/bin/cmake --build build -j "$(nproc)" > build.log 2>&1 || { cat build.log; exit 1; }
fi

set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
