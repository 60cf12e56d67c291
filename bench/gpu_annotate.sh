#!/usr/bin/env bash
# GPU check of the SAM labelling engine, one short run (expected 2-4 minutes on one H100;
# each step is capped, 9.5 minutes at worst):
#   1. faithfulness vs SamPredictor, float32 (must pass) and bfloat16 autocast (reported);
#   2. bench/annotate_speed.py --device cuda, float32 and bfloat16: the (a)/(b)/(c)/(m) tables.
# Uses the machine's own python and torch (no repository venv, no mmcv). segment_anything
# and pycocotools are pip-installed only when missing; where the machine has no package
# index, carry them from the venv (run's carry: .venv/lib/python3.11/site-packages/
# segment_anything and .../pycocotools, for a Python 3.11 machine): that folder is appended
# to PYTHONPATH, after the machine's own packages. Reads ../shared/data (or SAMRS_DATA).
# Everything printed is also written to $OUT/gpu_annotate.log when OUT is set.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DATA=${SAMRS_DATA:-../shared/data}
LOG=${OUT:+$OUT/gpu_annotate.log}
LOG=${LOG:-/dev/null}

say() { echo "$@" | tee -a "$LOG"; }
run() {  # run STEP_TIMEOUT cmd...: print and log, never stop the script
  local limit=$1; shift
  say "+ $*"
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && say "!! exit status $rc: $*"
  return 0
}

if [ -d .venv/lib/python3.11/site-packages ]; then
  export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD/.venv/lib/python3.11/site-packages"
fi
for pkg in segment_anything:segment-anything==1.0 pycocotools:pycocotools; do
  mod=${pkg%%:*}; req=${pkg#*:}
  if ! $PY -c "import $mod" 2>/dev/null; then
    say "installing $req"
    timeout 120 $PY -m pip install -q "$req" 2>&1 | tail -2 | tee -a "$LOG"
  fi
done
if ! $PY -c "import torch, segment_anything, pycocotools, numpy; assert torch.cuda.is_available()" 2>&1 | tee -a "$LOG"; then
  say "missing dependency or no CUDA device: stopping before any work"
  exit 2
fi
$PY -c "import torch; print('torch', torch.__version__, '|', torch.cuda.get_device_name())" | tee -a "$LOG"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader 2>/dev/null | tee -a "$LOG"

run 150 $PY bench/annotate_faithfulness.py --device cuda --dtype float32 --data "$DATA"
run 120 $PY bench/annotate_faithfulness.py --device cuda --dtype bfloat16 --data "$DATA"
run 180 $PY bench/annotate_speed.py --device cuda --dtype float32 --data "$DATA" --repeat 2 --steady
run 120 $PY bench/annotate_speed.py --device cuda --dtype bfloat16 --data "$DATA" --methods b,c,m --steady
say "done"
