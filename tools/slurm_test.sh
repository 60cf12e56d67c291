#!/usr/bin/env bash
# Testing on a Slurm cluster: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py args...]
# GPUS (total, default 4), GPUS_PER_NODE, CPUS_PER_TASK and SRUN_ARGS are read from the environment.
set -euo pipefail
source "$(dirname "$0")/launch_common.sh"
usage_unless 4 $# "$0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py arguments...]"
exec_srun "$1" "$2" 4 test.py "$3" "$4" --launcher slurm "${@:5}"
