#!/usr/bin/env bash
# GPU check of the SAM labelling engine, one short run (about 1.5-2 minutes on one H100; each
# step is capped, 4.6 minutes at worst):
#   1. faithfulness vs SamPredictor in float32 with the engine's defaults (TF32 off for the
#      model calls, engine and reference alike; batched masks): must print RESULT: FAITHFUL;
#   2. bench/annotate_speed.py --device cuda, float32 (--repeat 2) and bfloat16: the
#      (a)/(b)/(c)/(x)/(m) tables with the stage split; (x) is the engine with per-object
#      masks (the path before batching) and the line "(c) vs (x) masks" says whether both
#      paths gave identical masks.
# Uses the machine's own python and torch (no repository venv, no mmcv / mmseg / mmengine).
# segment_anything and pycocotools must be importable (e.g. wheels on PYTHONPATH); they are
# pip-installed only when missing and an index answers. A carried
# .venv/lib/python3.11/site-packages is appended to PYTHONPATH, after the machine's own.
# Reads ../shared/data (or SAMRS_DATA: a folder with dota/, isaid/, deepforest/).
# Everything printed is also written to $OUT/gpu_annotate.log when OUT is set.
#
#   bash bench/gpu_annotate.sh              # the GPU check
#   bash bench/gpu_annotate.sh --cpu-quick  # the same steps, small, on CPU (a smoke test)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DATA=${SAMRS_DATA:-../shared/data}
LOG=${OUT:+$OUT/gpu_annotate.log}
LOG=${LOG:-/dev/null}
QUICK=0
[ "${1:-}" = "--cpu-quick" ] && QUICK=1

say() { echo "$@" | tee -a "$LOG"; }
run() {  # run STEP_TIMEOUT cmd...: print and log, never stop the script
  local limit=$1; shift
  say "+ $*"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -ne 0 ] && say "!! exit status $rc: $*"
  say "(step took $((SECONDS - start)) s)"
  return 0
}

if [ -d .venv/lib/python3.11/site-packages ] && [ "$QUICK" = 0 ]; then
  export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD/.venv/lib/python3.11/site-packages"
fi
for pkg in segment_anything:segment-anything==1.0 pycocotools:pycocotools; do
  mod=${pkg%%:*}; req=${pkg#*:}
  if ! $PY -c "import $mod" 2>/dev/null; then
    say "installing $req"
    timeout 60 $PY -m pip install -q --retries 0 --timeout 10 "$req" 2>&1 | tail -2 | tee -a "$LOG"
  fi
done
NEED_CUDA="assert torch.cuda.is_available(), 'no CUDA device'"
[ "$QUICK" = 1 ] && NEED_CUDA=""
if ! $PY -c "import torch, segment_anything, pycocotools, numpy; $NEED_CUDA" 2>&1 | tee -a "$LOG"; then
  say "missing dependency or no CUDA device: stopping before any work"
  exit 2
fi

if [ "$QUICK" = 1 ]; then
  $PY -c "import torch, sys; print('python', sys.version.split()[0], '| torch', torch.__version__, '| CPU quick run')" | tee -a "$LOG"
  run 240 $PY bench/annotate_faithfulness.py --device cpu --data "$DATA" --specs hbox,rbox_mask \
    --vit-b-objects 0 --threads 1 --masks batched
  run 240 $PY bench/annotate_speed.py --device cpu --dtype float32 --data "$DATA" --quick --threads 1 \
    --methods a,b,c,x,m --steady
  run 240 $PY bench/annotate_speed.py --device cpu --dtype bfloat16 --data "$DATA" --quick --threads 1 \
    --max-objects 8 --methods b,c,x,m --steady
  say "done"
  exit 0
fi

$PY -c "import torch, sys; print('python', sys.version.split()[0], '| torch', torch.__version__, '|', torch.cuda.get_device_name())" | tee -a "$LOG"
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader 2>/dev/null | tee -a "$LOG"

run 90 $PY bench/annotate_faithfulness.py --device cuda --dtype float32 --data "$DATA"
run 110 $PY bench/annotate_speed.py --device cuda --dtype float32 --data "$DATA" --repeat 2 --steady \
  --methods a,b,c,x,m
run 75 $PY bench/annotate_speed.py --device cuda --dtype bfloat16 --data "$DATA" --steady --methods b,c,x,m
say "done"
