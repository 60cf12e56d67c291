# SAMRS fine-tuning row: UNet R-50 | IMP + SEP init | 100 % of the train crops
# iSAID (foreground mIoU). Backbone, neck and decoder come from
# the SEP checkpoint converted by tools/convert_sep_checkpoint.py (docs/finetune.md);
# its path: $SAMRS_SEP_INIT (or --cfg-options load_from=...).
_base_ = './unet_r50-imp_8xb1-80k_isaid-896x896.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/unet_r50-imp-sep.pth}}'
model = dict(pretrained=None, backbone=dict(init_cfg=None))  # nothing to download
