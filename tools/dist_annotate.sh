#!/usr/bin/env bash
# Distributed labelling with torchrun: tools/dist_annotate.sh CONFIG NUM_PROCS [samrs_annotate.py args...]
# Rank r labels images r, r + N, ...; rank 0 merges. One GPU per process when the engine's
# device is 'cuda'/'auto' and GPUs exist, else CPU processes (gloo is used for the barrier).
# Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT on every node.
set -euo pipefail
if [[ $# -lt 2 ]]; then
    echo "usage: $0 CONFIG NUM_PROCS [samrs_annotate.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29510}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)

PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$TOOLS_DIR/samrs_annotate.py" "$CONFIG" --launcher pytorch "${@:3}"
