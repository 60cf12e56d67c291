# SAMRS fine-tuning row: UperNet ViTAEv2-S | IMP + SEP init | 100 % of the train crops
# iSAID (foreground mIoU). Backbone, neck and decoder come from
# the SEP checkpoint converted by tools/convert_sep_checkpoint.py (docs/finetune.md);
# its path: $SAMRS_SEP_INIT (or --cfg-options load_from=...).
_base_ = './upernet_vitaev2-s-imp_8xb1-80k_isaid-896x896.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/upernet_vitaev2-s-imp-sep.pth}}'
model = dict(pretrained=None, backbone=dict(init_cfg=None))  # nothing to download
