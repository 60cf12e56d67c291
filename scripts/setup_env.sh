#!/usr/bin/env bash
# Reproducible install of the samrs_mm stack into ./.venv (DESIGN.md section 2).
#
# Idempotent: a stamp file records what was installed; a rerun with unchanged inputs
# returns in seconds. The mmcv wheel (built from source WITH its compiled ops, ~22 min on
# 2 cores) is cached outside the repository and reused by every later setup.
#
# Variables a user may set:
#   SAMRS_PYTHON       interpreter used to create the venv            (default: python3)
#   SAMRS_VENV         venv location                                   (default: ./.venv)
#   SAMRS_TORCH        pip specs of the torch pair                     (default: "torch==2.14.1 torchvision==0.29.1")
#   SAMRS_TORCH_INDEX  extra pip index for the torch pair, e.g. https://download.pytorch.org/whl/cu121
#   SAMRS_WHEEL_CACHE  where built mmcv wheels are kept                (default: ~/.cache/samrs_mm/wheels)
#   TORCH_CUDA_ARCH_LIST  CUDA architectures mmcv's ops are compiled for, e.g. "8.0;9.0"
#   FORCE_CUDA=1       build mmcv's CUDA ops even when no GPU is visible at build time
#   MAX_JOBS           parallel compile jobs for mmcv                   (default: number of cores)
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"

python_bin=${SAMRS_PYTHON:-python3}
venv=${SAMRS_VENV:-$repo_root/.venv}
torch_specs=${SAMRS_TORCH:-"torch==2.14.1 torchvision==0.29.1"}
wheel_cache=${SAMRS_WHEEL_CACHE:-$HOME/.cache/samrs_mm/wheels}
mmcv_version=2.1.0
stamp="$venv/.samrs_setup_stamp"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# Everything that decides the installed result goes into the stamp.
inputs_hash=$( { echo "$torch_specs|${SAMRS_TORCH_INDEX:-}|${TORCH_CUDA_ARCH_LIST:-}|${FORCE_CUDA:-}";
                 cat scripts/setup_env.sh requirements/*.txt setup.py; } | sha256sum | cut -d' ' -f1)
if [[ -f "$stamp" && "$(cat "$stamp")" == "$inputs_hash" ]] && "$venv/bin/python" -c 'import samrs_mm' 2>/dev/null; then
    log "environment in $venv is up to date"
    exit 0
fi

start=$(date +%s)
if [[ ! -x "$venv/bin/python" ]]; then
    log "creating $venv with $python_bin"
    "$python_bin" -m venv "$venv"
fi
py="$venv/bin/python"
pip=("$py" -m pip install --disable-pip-version-check)

# mmcv's setup.py imports pkg_resources (gone in setuptools 82); torch needs >= 77.
"${pip[@]}" -q "pip>=24" "setuptools>=77,<81" wheel ninja psutil

log "installing the torch pair: $torch_specs"
index_args=()
[[ -n "${SAMRS_TORCH_INDEX:-}" ]] && index_args=(--extra-index-url "$SAMRS_TORCH_INDEX")
# shellcheck disable=SC2086
"${pip[@]}" -q ${index_args[@]+"${index_args[@]}"} $torch_specs

# The cache key holds everything the compiled ops depend on.
torch_tag=$("$py" -c 'import torch; print(torch.__version__.replace("+", "_"))')
cuda_tag=$("$py" -c "import os, torch; cuda = torch.cuda.is_available() or os.environ.get('FORCE_CUDA') == '1'; print('cuda' + (os.environ.get('TORCH_CUDA_ARCH_LIST', 'auto').replace(';', '_').replace(' ', '_').replace('.', '')) if cuda else 'cpu')")
py_tag=$("$py" -c 'import sys; print(f"py{sys.version_info[0]}{sys.version_info[1]}")')
cache_dir="$wheel_cache/mmcv-$mmcv_version-torch$torch_tag-$cuda_tag-$py_tag"
mkdir -p "$cache_dir"
wheel=$(ls "$cache_dir"/mmcv-$mmcv_version-*.whl 2>/dev/null | head -n1 || true)

if [[ -z "$wheel" ]]; then
    log "no cached mmcv wheel in $cache_dir: building mmcv $mmcv_version with ops (about 22 min on 2 cores)"
    build_dir=$(mktemp -d)
    trap 'rm -rf "$build_dir"' EXIT
    "$py" -m pip download -q --no-deps --no-binary :all: --no-build-isolation "mmcv==$mmcv_version" -d "$build_dir"
    tar -xzf "$build_dir"/mmcv-$mmcv_version.tar.gz -C "$build_dir"
    src="$build_dir/mmcv-$mmcv_version"
    # torch >= 2.10 headers need C++20; mmcv 2.1.0 hard-codes C++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
    grep -q -- '-std=c++20' "$src/setup.py" || die "could not patch mmcv's setup.py to -std=c++20"
    # Without --no-build-isolation pip builds against a throw-away torch and silently
    # produces a wheel without ops.
    (cd "$src" && MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "$py" -m pip wheel --no-deps --no-build-isolation -w "$build_dir/dist" .)
    built=$(ls "$build_dir"/dist/mmcv-*.whl 2>/dev/null | head -n1 || true)
    [[ -n "$built" ]] || die "mmcv build produced no wheel"
    # Refuse to cache a wheel that has no compiled ops (a build without
    # --no-build-isolation or without MMCV_WITH_OPS silently produces one).
    "$py" - "$built" <<'PY' || die "the mmcv wheel $built has no compiled ops (mmcv/_ext missing)"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(0 if any(n.startswith('mmcv/_ext') for n in names) else 1)
PY
    cp "$built" "$cache_dir/.incoming.whl" && mv "$cache_dir/.incoming.whl" "$cache_dir/$(basename "$built")"
    wheel="$cache_dir/$(basename "$built")"
    log "cached $wheel"
else
    log "reusing cached mmcv wheel $wheel"
fi
"${pip[@]}" -q --no-deps --force-reinstall "$wheel"
# mmcv's own light dependencies (addict, yapf, ...), without letting pip touch mmcv.
"${pip[@]}" -q addict packaging Pillow pyyaml yapf

log "installing the OpenMMLab stack and the project"
"${pip[@]}" -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/optional.txt
# sam2 builds from source: against the installed torch (no build isolation, which would
# download another torch) and without its optional CUDA extension.
SAM2_BUILD_CUDA=0 "${pip[@]}" -q --no-build-isolation -r requirements/sam2.txt
"${pip[@]}" -q --no-deps --no-build-isolation -e .

log "verifying the install"
"$py" - <<'PY' || die "verification failed: mmcv's compiled ops (mmcv._ext) or the plugin do not load"
import importlib
ext = importlib.import_module('mmcv._ext')
from mmcv.ops import nms  # noqa: F401  (needs the compiled ops)
import samrs_mm  # noqa: F401
import mmseg.models, mmdet.models  # noqa: F401,E401
import torch, mmcv, mmseg, mmdet, mmengine, mmpretrain, segment_anything  # noqa: F401,E401
import sam2, sam3, segment_anything_hq  # noqa: F401,E401  (the other labelling families)
print(f'[setup] ok: torch {torch.__version__}, mmcv {mmcv.__version__} (ops: {ext.__file__}), '
      f'mmengine {mmengine.__version__}, mmseg {mmseg.__version__}, mmdet {mmdet.__version__}')
PY
echo "$inputs_hash" > "$stamp"
log "done in $(( $(date +%s) - start )) s"
