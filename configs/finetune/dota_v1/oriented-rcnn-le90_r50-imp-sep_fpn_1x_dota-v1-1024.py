# DOTA-v1.0 patches, Oriented R-CNN R-50-FPN whose backbone comes from SEP
# (configs/sep/upernet_r50.py), converted with
#   python tools/convert_sep_checkpoint.py SEP.pth checkpoints/sep_init/oriented-rcnn_r50-sep.pth \
#       --target detector --config configs/finetune/dota_v1/oriented-rcnn-le90_r50-imp-sep_fpn_1x_dota-v1-1024.py
# then $SAMRS_SEP_INIT (or --cfg-options load_from=...). Neck and heads start fresh.
_base_ = './oriented-rcnn-le90_r50-imp_fpn_1x_dota-v1-1024.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/oriented-rcnn_r50-sep.pth}}'
model = dict(backbone=dict(init_cfg=None))  # nothing to download
