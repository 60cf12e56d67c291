#!/usr/bin/env bash
# `make demo`: the whole SAMRS chain on the synthetic scenes in demo/data, offline, on CPU.
#   crop (DOTA 1024 / FAIR1M 600) -> SAM labels (box baseline unless SAM_CHECKPOINT is set)
#   -> 75/25 split lists -> a few SEP iterations (configs/sep/upernet_r50.py shrunk to a
#   ResNet-18 so it runs in about a minute on 2 CPU cores; three heads)
#   -> per-subset evaluation -> a georeferenced scene labelled from WGS84 boxes and predicted with the
#   SEP model (tools/annotate_scene.py, tools/infer_scene.py) -> Mask R-CNN on the SOTA instances and Oriented R-CNN on the
#   FAST rotated boxes (one epoch each, tiny ResNet-18, COCO / DOTA metrics) -> one overlay picture.
# Variables: DEMO_OUT (default work_dirs/demo), DEMO_ITERS (SEP iterations, default 20),
#   SAM_CHECKPOINT (+ SAM_MODEL_TYPE, default vit_h) to label with real SAM weights.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${DEMO_OUT:-work_dirs/demo}
ITERS=${DEMO_ITERS:-20}
step() { printf '\n==== [demo] %s\n' "$*"; }
# Training and testing print their full configs and every log line: keep those in
# $OUT/logs/<name>.log and print what the step did (the tail of the log when it fails).
logged() {
    local name=$1; shift
    if ! "$@" >"$OUT/logs/$name.log" 2>&1; then
        echo "[demo] $name failed; the end of $OUT/logs/$name.log:" >&2
        tail -n 40 "$OUT/logs/$name.log" >&2
        exit 1
    fi
}

rm -rf "$OUT"
mkdir -p "$OUT/logs"

step "1/10 crop large images into patches (DOTA-v2 1024/gap 200, FAIR1M 600/gap 200)"
"$PY" tools/split_images.py --source dota --preset dota-v2 --ann-dir demo/data/dota/labelTxt \
    --img-dir demo/data/dota/images --out-dir "$OUT/split/dota"
"$PY" tools/split_images.py --source fair1m --preset fair1m --ann-dir demo/data/fair1m/labelXml \
    --img-dir demo/data/fair1m/images --out-dir "$OUT/split/fair1m"

if [[ -n "${SAM_CHECKPOINT:-}" ]]; then
    export SAM_BACKEND=segment_anything
    step "2/10 label every object with SAM ($SAM_CHECKPOINT)"
else
    export SAM_BACKEND=box
    step "2/10 label every object: no SAM_CHECKPOINT set, so the 'box' baseline fills each box"
    echo "     (set SAM_CHECKPOINT=/path/to/sam_vit_h_4b8939.pth to use Segment Anything)"
fi
export DOTA_SPLIT_ROOT="$OUT/split/dota" FAIR1M_SPLIT_ROOT="$OUT/split/fair1m"
export DIOR_ROOT=demo/data/dior SAMRS_ROOT="$OUT/samrs"
for config in sota_dotav2-1024_hbox sior_dior_hbox fast_fair1m2-600_rhbox; do
    "$PY" tools/samrs_annotate.py "configs/annotate/$config.py"
done

step "3/10 label QC of the SOTA labels: quality signals per object, flags, report pages (docs/label_qc.md)"
"$PY" tools/label_qc.py "$OUT/samrs/sota" 2>/dev/null | tail -n 1 | sed 's/^/     /'

step "4/10 train/val split lists (25% validation: the demo sets are tiny)"
"$PY" tools/make_splits.py "$OUT/samrs/sota" "$OUT/samrs/sior" "$OUT/samrs/fast" --val-ratio 0.25

step "5/10 SEP pre-training: $ITERS iterations of configs/sep/upernet_r50.py (ResNet-18 override) on CPU"
export SAMRS_DATA_ROOT="$OUT/samrs"
SMALL_MODEL=(model.pretrained=None model.backbone.depth=18 "model.decode_head.in_channels=[64,128,256,512]"
             model.decode_head.channels=128 model.auxiliary_head.in_channels=256 model.auxiliary_head.channels=64)
logged sep_train "$PY" tools/train.py configs/sep/upernet_r50.py --work-dir "$OUT/sep" --cfg-options \
    "${SMALL_MODEL[@]}" train_cfg.max_iters="$ITERS" train_cfg.val_interval="$ITERS" \
    train_dataloader.batch_size=3 \
    train_dataloader.num_workers=0 train_dataloader.persistent_workers=False \
    val_dataloader.num_workers=0 val_dataloader.persistent_workers=False \
    default_hooks.logger.interval=5 default_hooks.checkpoint.interval="$ITERS" \
    default_hooks.checkpoint.save_best=None
grep -E 'Iter\(train\)' "$OUT/logs/sep_train.log" | tail -n 1 | sed -E 's/^.*(Iter\(train\))/     \1/' | cut -c1-160 || true
echo "     checkpoint: $OUT/sep/iter_$ITERS.pth (full log: $OUT/logs/sep_train.log)"

step "6/10 evaluate: mIoU per SAMRS subset and their average (paper Table 9 layout)"
logged sep_test "$PY" tools/test.py configs/sep/upernet_r50.py "$OUT/sep/iter_$ITERS.pth" --work-dir "$OUT/test" \
    --cfg-options "${SMALL_MODEL[@]}" test_dataloader.num_workers=0 test_dataloader.persistent_workers=False
# The Table-9 summary (one row per subset, then the average) and the metric line.
sed -n '/per subset results/,/^$/p' "$OUT/logs/sep_test.log" | grep -E '^\+|^\|' | sed 's/^/     /' || true
grep -E 'Iter\(test\)' "$OUT/logs/sep_test.log" | tail -n 1 | sed -E 's/^.*(Iter\(test\))/     \1/' | tr -s ' ' | cut -c1-400 || true
echo "     (full log: $OUT/logs/sep_test.log)"

step "7/10 a whole georeferenced scene: its boxes (WGS84) labelled window by window, then the SEP model's SOTA head streamed over it"
"$PY" demo/make_demo_scene.py --image demo/data/dota/images/D0001.png --labels demo/data/dota/labelTxt/D0001.txt \
    --out-dir "$OUT/scene" | sed 's/^/     /'
"$PY" tools/annotate_scene.py configs/annotate/scene_sota_hbox.py --image "$OUT/scene/scene.tif" \
    --boxes "$OUT/scene/boxes.gpkg" --out-dir "$OUT/scene/labels" --no-progress
logged scene_infer "$PY" tools/infer_scene.py configs/sep/upernet_r50.py "$OUT/sep/iter_$ITERS.pth" "$OUT/scene/scene.tif" \
    --subset sota --out-dir "$OUT/scene/predicted" --no-progress --cfg-options "${SMALL_MODEL[@]}"
grep -E '^\[infer_scene\]' "$OUT/logs/scene_infer.log" | sed 's/^/     /'

# The detectors' smoke configs (configs/smoke/): ResNet-18 with 16-channel stages, 32-channel FPN and
# heads, fewer proposals and sampled RoIs; one epoch over each training list, then the validation
# list is evaluated by the same process (one interpreter start-up per model, not two).
metric_line() { grep -E "$2" "$OUT/logs/$1.log" | tail -n 1 | sed -E 's/^.*(Epoch\(val\))/     \1/' | tr -s ' ' | cut -c1-220 || true; }

step "8/10 instance segmentation: configs/smoke/mask_rcnn_sota.py (configs/instance/mask-rcnn_r50_fpn_1x_sota.py, ResNet-18), 1 epoch on the SOTA instances + COCO bbox / segm on val"
INSTANCE=configs/smoke/mask_rcnn_sota.py  # the SOTA patches at half size keep this step short
logged instance "$PY" tools/train.py "$INSTANCE" --work-dir "$OUT/instance"
metric_line instance 'Epoch\(val\).*coco/bbox_mAP'
echo "     checkpoint: $OUT/instance/epoch_1.pth (test it: tools/test.py $INSTANCE CKPT; log: $OUT/logs/instance.log)"

step "9/10 rotated detection: configs/smoke/oriented_rcnn_fast.py (configs/rotated/oriented-rcnn-le90_r50_fpn_1x_fast.py, ResNet-18), 1 epoch on the FAST R-Boxes + DOTA mAP on val"
ROTATED=configs/smoke/oriented_rcnn_fast.py
logged rotated "$PY" tools/train.py "$ROTATED" --work-dir "$OUT/rotated"
metric_line rotated 'Epoch\(val\).*dota/mAP'
echo "     checkpoint: $OUT/rotated/epoch_1.pth (log: $OUT/logs/rotated.log)"

step "10/10 overlay picture of the generated labels"
"$PY" tools/visualize_labels.py "$OUT/samrs/sota" --num 1 --out-dir "$OUT/overlays"

cat <<MSG

==== [demo] done. Outputs under $OUT/:
  split/{dota,fair1m}/      patches + DOTA-format labels
  samrs/{sota,sior,fast}/   SAMRS subsets: images/, semantic/ (label PNGs), color/, instances/,
                            annotations.json (COCO), summary.json, train.txt, val.txt
  sep/                      SEP checkpoint iter_$ITERS.pth and training logs
  test/                     evaluation logs (per-subset mIoU)
  scene/                    scene.tif + boxes.gpkg; labels/ and predicted/: semantic.tif (COG), instances.gpkg,
                            quicklook.png, summary.json
  samrs/sota/qc/            label QC report: index.html (histograms, worst objects), objects.csv, summary.json
  instance/, rotated/       Mask R-CNN (SOTA instances) and Oriented R-CNN (FAST R-Boxes) checkpoints
  logs/                     the full output of the training and test steps
  overlays/                 $(ls "$OUT/overlays" | head -n1)
MSG
