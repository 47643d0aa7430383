#!/usr/bin/env bash
# The GPU check: the quickstart on the GPU, the overhead benchmark against a plain cuda loop,
# then the trials per hour of 1, 2, 4 and 8 workers sharing the one GPU (benchmarks/gpu_workers.py).
#
# For a GPU machine without network whose Python already has torch and Lightning:
#   benchmarks/gpu_check.sh --fetch   on a machine with network: fill .gpu-wheels/ (about 20 MB)
#   benchmarks/gpu_check.sh           on the GPU machine, from a checkout that holds .gpu-wheels/
#   benchmarks/gpu_check.sh --cpu     the same steps on the CPU: tries the script anywhere
# It installs nothing into that Python: the wheels unpack into a folder of their own (.gpu-site/,
# without dependency resolution: gpu-requirements.txt lists every one), which goes first on
# PYTHONPATH with the project's source. Where the stack already imports (--cpu on a machine with
# the project installed), nothing is unpacked. It takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
WHEELS=${WHEELS:-$ROOT/.gpu-wheels}
SITE=$ROOT/.gpu-site
OUTDIR=${OUT:-}  # where the device tool collects files; the profile goes there if set
GPU_PYTHON_VERSION=${GPU_PYTHON_VERSION:-3.12}  # the GPU image's Python, for --fetch
TRIALS=${TRIALS:-4}  # of the quickstart's 16
# Guards that keep the whole check under 8 minutes on a GPU; raise them for --cpu on a busy
# machine. WORKERS_S covers the 8 sweeps of gpu_workers.py, each at most an eighth of it.
SWEEP_S=${SWEEP_S:-60}
BENCH_S=${BENCH_S:-200}
WORKERS_S=${WORKERS_S:-184}
MODE=${1:-gpu}

case $MODE in
  --fetch)
    # Every wheel the requirements pull in, for the GPU image's Python on x86-64 Linux.
    $PY -m pip download --no-deps --only-binary=:all: --implementation cp \
      --python-version "$GPU_PYTHON_VERSION" --platform manylinux2014_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_34_x86_64 \
      -r benchmarks/gpu-requirements.txt -d "$WHEELS"
    du -sh "$WHEELS"
    exit 0 ;;
  --cpu) DEVICE=cpu; ACCELERATOR=cpu ;;
  gpu) DEVICE=cuda; ACCELERATOR=gpu ;;
  *) echo "usage: $0 [--fetch | --cpu]  (no argument: run the check on the GPU)" >&2; exit 2 ;;
esac

$PY -c "import torch, pytorch_lightning" || {
  echo "$PY lacks torch or pytorch_lightning; set PYTHON=/path/to/python" >&2; exit 2; }
if [ "$DEVICE" = cuda ]; then
  $PY -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" || {
    echo "torch sees no GPU here; use --cpu to try the script on the CPU" >&2; exit 2; }
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi

RUN=$PY
# UNPACK=1 unpacks the wheels even where the stack imports: tries the carried set itself.
if [ "${UNPACK:-0}" != 1 ] && $PY -c "import optuna, mlflow, pydantic, sqlalchemy" 2>/dev/null; then
  echo "== the stack already imports in $PY: nothing to unpack"
  export PYTHONPATH=$ROOT
else
  if [ ! -d "$WHEELS" ]; then
    echo "no $WHEELS: run 'benchmarks/gpu_check.sh --fetch' on a machine with network first" >&2
    exit 2
  fi
  echo "== unpacking the wheels into $SITE"
  $PY -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl
  export PYTHONPATH=$SITE:$ROOT
fi
export PYTHONUNBUFFERED=1
"$RUN" -c "import torch, pytorch_lightning as pl, optuna, mlflow; print(f'python {__import__(\"sys\").version.split()[0]}, torch {torch.__version__}, lightning {pl.__version__}, optuna {optuna.__version__}, mlflow {mlflow.__version__}')"

echo "== quickstart on $ACCELERATOR ($TRIALS of its 16 trials)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && time timeout "$SWEEP_S" "$RUN" -c "import sys; from sweeps.cli.app import app; sys.argv[0] = 'sweep'; app()" \
  run "$ROOT/configs/quickstart.yaml" --set trainer.accelerator="$ACCELERATOR" --set search.n_trials="$TRIALS")

echo "== overhead against a plain loop on $DEVICE"
# QUICK=1: tiny budgets, to try the script; PROFILE=N: first the N costliest functions of a trial
timeout "$BENCH_S" "$RUN" -m benchmarks.overhead --device "$DEVICE" --profile "${PROFILE:-0}" \
  ${QUICK:+--quick} || echo "(the overhead case missed a goal or ran out of time)"

echo "== 1, 2, 4 and 8 workers on one $DEVICE device: trials per hour"
timeout "$WORKERS_S" "$RUN" -m benchmarks.gpu_workers --device "$DEVICE" \
  --timeout "$((WORKERS_S / 8))" ${QUICK:+--quick}
