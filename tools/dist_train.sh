#!/usr/bin/env bash
# Distributed training with torchrun: tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# One process per GPU; without GPUs the processes run on CPU with the gloo backend.
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT on every node.
set -euo pipefail
source "$(dirname "$0")/launch_common.sh"
usage_unless 2 $# "$0 CONFIG NUM_PROCS [train.py arguments...]"
exec_torchrun "$2" 29500 train.py "$1" --launcher pytorch "${@:3}"
