#!/usr/bin/env bash
# Labelling on a Slurm cluster: tools/slurm_annotate.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [samrs_annotate.py args...]
# GPUS (total tasks, default 8), GPUS_PER_NODE, CPUS_PER_TASK and SRUN_ARGS are read from the
# environment, as for tools/slurm_train.sh. Rerunning the same command resumes.
set -euo pipefail
source "$(dirname "$0")/launch_common.sh"
usage_unless 3 $# "$0 PARTITION JOB_NAME CONFIG [WORK_DIR] [samrs_annotate.py arguments...]"
extra=("${@:5}")
[[ -n "${4:-}" ]] && extra=(--work-dir "$4" "${extra[@]}")
exec_srun "$1" "$2" 8 samrs_annotate.py "$3" --launcher slurm "${extra[@]}"
