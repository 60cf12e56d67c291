#!/usr/bin/env bash
# Labelling on a Slurm cluster: tools/slurm_annotate.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [samrs_annotate.py args...]
# GPUS (total tasks), GPUS_PER_NODE, CPUS_PER_TASK and SRUN_ARGS are read from the
# environment, as for tools/slurm_train.sh. Rerunning the same command resumes.
set -euo pipefail
if [[ $# -lt 3 ]]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [samrs_annotate.py arguments...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=${4:-}
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
extra=("${@:5}")
[[ -n "$WORK_DIR" ]] && extra=(--work-dir "$WORK_DIR" "${extra[@]}")

# shellcheck disable=SC2086
PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS_DIR/samrs_annotate.py" "$CONFIG" --launcher slurm "${extra[@]}"
