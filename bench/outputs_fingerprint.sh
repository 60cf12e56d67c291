#!/usr/bin/env bash
# bench/outputs_fingerprint.sh REPO OUT: the annotate outputs of the checkout REPO (tiny random SAM
# families, the box backend, the demo's split + annotate + scene labelling) written into OUT, and
# OUT.sha256 listing every file's hash. Run it for two checkouts with the same OUT and diff the lists
# to show a restructuring leaves the outputs byte-identical (docs/architecture.md).
set -euo pipefail
REPO=$1; OUT=$2
PY=${PYTHON:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
export PYTHONPATH=$REPO OMP_NUM_THREADS=1
rm -rf "$OUT"; mkdir -p "$OUT"
cd "$REPO"
$PY - "$OUT" <<'PYEOF'
import sys, os.path as osp
sys.path.insert(0, '.')
from tests.annotate.annotate_data import write_dota_dataset, PLANE_GRID, DEFAULT_OBJECTS
out = sys.argv[1]
write_dota_dataset(osp.join(out, 'data'), n_images=3, height=120, width=128, objects=PLANE_GRID + DEFAULT_OBJECTS)
runs = {
 'box': "dict(backend='box', prompt='hbox')",
 'sam': "dict(backend='segment_anything', model_type='tiny_test', random_init=True, prompt='hbox', device='cpu', prompt_batch_size=8)",
 'sam_rhcp': "dict(backend='segment_anything', model_type='tiny_test', random_init=True, prompt='rhbox+cp', multimask_output=True, device='cpu', prompt_batch_size=5)",
 'hq': "dict(backend='sam_hq', model_type='tiny_test', random_init=True, prompt='hbox', device='cpu', prompt_batch_size=8)",
 'sam2': "dict(backend='sam2', model_type='tiny_test', random_init=True, prompt='hbox', device='cpu', prompt_batch_size=8)",
 'sam3': "dict(backend='sam3', model_type='tiny_test', random_init=True, prompt='hbox', device='cpu', prompt_batch_size=8)",
}
for name, engine in runs.items():
    d = osp.join(out, 'data')
    with open(osp.join(out, name + '.py'), 'w') as f:
        f.write(f"source = dict(type='dota', ann_dir={osp.join(d,'labelTxt')!r}, img_dir={osp.join(d,'images')!r}, class_list='sota')\n"
                f"engine = {engine}\n"
                f"writer = dict(copy_images='png', vector='geojson', overlap='score_on_top')\n"
                f"runner = dict(num_workers=0, progress=False)\n"
                f"work_dir = {osp.join(out, 'work_' + name)!r}\n")
PYEOF
for n in box sam sam_rhcp hq sam2 sam3; do $PY tools/samrs_annotate.py "$OUT/$n.py" > "$OUT/log_$n.txt" 2>&1 || { echo "FAIL $n"; tail -5 "$OUT/log_$n.txt"; }; done
# demo steps 1, 2 and the scene labelling of step 6
D=$OUT/demo; mkdir -p $D
$PY tools/split_images.py --source dota --preset dota-v2 --ann-dir demo/data/dota/labelTxt --img-dir demo/data/dota/images --out-dir "$D/split/dota" > /dev/null
$PY tools/split_images.py --source fair1m --preset fair1m --ann-dir demo/data/fair1m/labelXml --img-dir demo/data/fair1m/images --out-dir "$D/split/fair1m" > /dev/null
export SAM_BACKEND=box DOTA_SPLIT_ROOT="$D/split/dota" FAIR1M_SPLIT_ROOT="$D/split/fair1m" DIOR_ROOT=demo/data/dior SAMRS_ROOT="$D/samrs"
for c in sota_dotav2-1024_hbox sior_dior_hbox fast_fair1m2-600_rhbox; do $PY tools/samrs_annotate.py configs/annotate/$c.py > /dev/null 2>&1 || echo "FAIL $c"; done
$PY demo/make_demo_scene.py --image demo/data/dota/images/D0001.png --labels demo/data/dota/labelTxt/D0001.txt --out-dir "$D/scene" > /dev/null
$PY tools/annotate_scene.py configs/annotate/scene_sota_hbox.py --image "$D/scene/scene.tif" --boxes "$D/scene/boxes.gpkg" --out-dir "$D/scene/labels" --no-progress > /dev/null 2>&1 || echo "FAIL scene"
cd "$OUT" && find . -type f ! -path '*/logs/*' ! -name 'log_*' ! -name '*.log' ! -path '*/.tmp/*' | sort | xargs sha256sum > "$OUT.sha256"
wc -l "$OUT.sha256"
