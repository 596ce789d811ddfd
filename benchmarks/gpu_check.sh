#!/usr/bin/env bash
# The GPU check, as run on a lent machine with one NVIDIA GPU and the image's own Python
# (torch, numba, numpy, scipy, scikit-learn, pytest, hypothesis; no install step):
#   1. the torch test suite (tests/real), with its slowest tests listed;
#   2. `landsim reproduce --real --quick` on the GPU, then the same on that machine's CPU,
#      each under a time limit, with the wall-clock times.
# Logs and reports go to $OUT (or ./gpu-check when OUT is unset).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu-check}"
mkdir -p "$out"
export PYTHONPATH="$PWD:$PWD/clients" PYTHONUNBUFFERED=1 NUMBA_CACHE_DIR=/tmp/landsim-numba
landsim=(python3 -c 'import sys; from landsim.cli import main; sys.exit(main())')
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch, numba, numpy, sys; print(sys.version.split()[0], "torch", torch.__version__, "numba", numba.__version__, "numpy", numpy.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
  nproc
} 2>&1 | tee "$out/machine.txt"
t0=$EPOCHREALTIME
timeout "${TEST_LIMIT:-240}" python3 -m pytest -q -p no:cacheprovider --durations=12 tests/real 2>&1 | tee "$out/pytest_real.log"
rc=${PIPESTATUS[0]}
echo "tests/real rc=$rc wall=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}") s" | tee -a "$out/times.txt"
for dev in cuda cpu; do
  t0=$EPOCHREALTIME
  timeout "${REPRO_LIMIT:-180}" "${landsim[@]}" reproduce --real --quick --device "$dev" --out "/tmp/real-$dev" 2>&1 | tee "$out/reproduce_real_$dev.log"
  rc=${PIPESTATUS[0]}
  echo "reproduce --real --quick --device $dev rc=$rc wall=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}") s" | tee -a "$out/times.txt"
  cp "/tmp/real-$dev/report.md" "$out/report_real_$dev.md" 2>/dev/null
done
