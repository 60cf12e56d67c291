#!/usr/bin/env bash
# Training on a Slurm cluster: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args...]
# GPUS (total, default 8), GPUS_PER_NODE, CPUS_PER_TASK and SRUN_ARGS are read from the environment.
set -euo pipefail
source "$(dirname "$0")/launch_common.sh"
usage_unless 3 $# "$0 PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py arguments...]"
extra=("${@:5}")
[[ -n "${4:-}" ]] && extra=(--work-dir "$4" "${extra[@]}")
exec_srun "$1" "$2" 8 train.py "$3" --launcher slurm "${extra[@]}"
