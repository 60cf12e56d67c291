# Sourced by tools/dist_*.sh and tools/slurm_*.sh (not run on its own): one way to start a
# tool of this folder under torchrun or srun, so every wrapper reads the same variables.
#   torchrun: NNODES, NODE_RANK, MASTER_ADDR, PORT
#   srun:     GPUS (total tasks), GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS
#   both:     PYTHON (interpreter, default `python`)
TOOLS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python}
# The tools import samrs_mm from this checkout even when it is not pip-installed.
export PYTHONPATH="$TOOLS_DIR/..${PYTHONPATH:+:$PYTHONPATH}"

# usage_unless MIN_ARGS GIVEN USAGE: print the usage line and exit 2 when arguments are missing.
usage_unless() {
    if (( $2 < $1 )); then
        echo "usage: $3" >&2
        exit 2
    fi
}

# exec_torchrun NPROCS DEFAULT_PORT TOOL ARGS...: replace this shell with torchrun running TOOL.
exec_torchrun() {
    local nprocs=$1 default_port=$2 tool=$3
    shift 3
    exec "$PYTHON" -m torch.distributed.run \
        --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$nprocs" --master_port="${PORT:-$default_port}" \
        "$TOOLS_DIR/$tool" "$@"
}

# exec_srun PARTITION JOB_NAME DEFAULT_GPUS TOOL ARGS...: replace this shell with srun running
# one TOOL process per task.
exec_srun() {
    local partition=$1 job_name=$2 default_gpus=$3 tool=$4
    shift 4
    local gpus=${GPUS:-$default_gpus}
    local gpus_per_node=${GPUS_PER_NODE:-$default_gpus}
    # SRUN_ARGS is a user-written option string: split on spaces on purpose.
    # shellcheck disable=SC2086
    exec srun -p "$partition" --job-name="$job_name" --gres=gpu:"$gpus_per_node" \
        --ntasks="$gpus" --ntasks-per-node="$gpus_per_node" \
        --cpus-per-task="${CPUS_PER_TASK:-5}" --kill-on-bad-exit=1 ${SRUN_ARGS:-} \
        "$PYTHON" -u "$TOOLS_DIR/$tool" "$@"
}
