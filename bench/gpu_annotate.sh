#!/usr/bin/env bash
# GPU check of the SAM labelling engine, one short run (SAM steps about 1.5-2 minutes on one
# H100; each step is capped, 14 minutes at worst with the SAM families):
#   1. faithfulness vs SamPredictor in float32 with the engine's defaults (TF32 off for the
#      model calls, engine and reference alike; batched masks): must print RESULT: FAITHFUL;
#   2. bench/annotate_speed.py --device cuda, float32 (--repeat 2) and bfloat16: the
#      (a)/(b)/(c)/(r)/(x)/(m) tables with the stage split; (r) is the engine on realistic
#      (object-shaped) masks, the post-processing goal (r)/(m) <= 1.3; (x) is the engine with
#      per-object masks (the path before batching) and the line "(c) vs (x) masks" says
#      whether both paths gave identical masks;
#   3. the same for the other SAM families (HQ-SAM, SAM 2.1, SAM 3): faithfulness of the test
#      models on every prompt spec and of the full-size models on 32 objects, then their speed
#      tables side by side (float32, full-size models, random weights). Skipped with
#      FAMILIES=0 (then the run is the SAM check alone).
# Uses the machine's own python and torch (no repository venv, no mmcv / mmseg / mmengine).
# segment_anything and pycocotools must be importable (e.g. wheels on PYTHONPATH); they are
# pip-installed only when missing and an index answers; so are segment_anything_hq, sam2,
# sam3 and their pure-python dependencies for step 3 (sam2 without its CUDA extension). A
# carried .venv/lib/python3.11/site-packages is appended to PYTHONPATH, after the machine's own.
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
  run 180 $PY bench/annotate_faithfulness.py --device cpu --data "$DATA" --specs hbox,rbox_mask \
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
run 130 $PY bench/annotate_speed.py --device cuda --dtype float32 --data "$DATA" --repeat 2 --steady \
  --methods a,b,c,r,x,m
run 75 $PY bench/annotate_speed.py --device cuda --dtype bfloat16 --data "$DATA" --steady --methods b,c,r,x,m
if [ "${FAMILIES:-1}" != 0 ]; then
  if ! $PY -c "import segment_anything_hq, sam2, sam3" 2>/dev/null; then
    say "installing the SAM families (segment-anything-hq 0.3, sam2 1.1.0 without CUDA ext, sam3 0.1.4)"
    SAM2_BUILD_CUDA=0 timeout 120 $PY -m pip install -q --retries 0 --timeout 10 segment-anything-hq==0.3 \
      sam2==1.1.0 sam3==0.1.4 2>&1 | tail -2 | tee -a "$LOG"
  fi
  run 180 $PY bench/annotate_faithfulness.py --device cuda --dtype float32 --data "$DATA" \
    --families sam_hq,sam2,sam3 --vit-b-objects 32
  run 240 $PY bench/annotate_speed.py --device cuda --dtype float32 --data "$DATA" --repeat 2 \
    --families sam_hq,sam2,sam3 --methods a,b,c,r,x,m
fi
say "done"
