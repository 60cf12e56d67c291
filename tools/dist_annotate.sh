#!/usr/bin/env bash
# Distributed labelling with torchrun: tools/dist_annotate.sh CONFIG NUM_PROCS [samrs_annotate.py args...]
# Rank r labels images r, r + N, ...; rank 0 merges. One GPU per process when the engine's
# device is 'cuda'/'auto' and GPUs exist, else CPU processes (gloo is used for the barrier).
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT on every node.
set -euo pipefail
source "$(dirname "$0")/launch_common.sh"
usage_unless 2 $# "$0 CONFIG NUM_PROCS [samrs_annotate.py arguments...]"
# Its own default port, so a labelling job can share a node with a training job.
exec_torchrun "$2" 29510 samrs_annotate.py "$1" --launcher pytorch "${@:3}"
