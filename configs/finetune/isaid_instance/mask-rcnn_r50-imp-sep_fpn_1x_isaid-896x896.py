# iSAID instance segmentation, Mask R-CNN R-50-FPN whose backbone comes from SEP
# (configs/sep/upernet_r50.py): convert the SEP checkpoint for this config,
#   python tools/convert_sep_checkpoint.py SEP.pth checkpoints/sep_init/mask-rcnn_r50-sep.pth \
#       --target detector --config configs/finetune/isaid_instance/mask-rcnn_r50-imp-sep_fpn_1x_isaid-896x896.py
# and point $SAMRS_SEP_INIT at it (or --cfg-options load_from=...). Neck and heads start fresh.
_base_ = './mask-rcnn_r50-imp_fpn_1x_isaid-896x896.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/mask-rcnn_r50-sep.pth}}'
model = dict(backbone=dict(init_cfg=None))  # nothing to download
