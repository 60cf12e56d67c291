#!/usr/bin/env bash
# Distributed testing with torchrun: tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT on every node.
set -euo pipefail
source "$(dirname "$0")/launch_common.sh"
usage_unless 3 $# "$0 CONFIG CHECKPOINT NUM_PROCS [test.py arguments...]"
exec_torchrun "$3" 29500 test.py "$1" "$2" --launcher pytorch "${@:4}"
