# SAMRS fine-tuning row: Mask2Former R-50 | IMP + SEP init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1). Backbone, neck and decoder come from
# the SEP checkpoint converted by tools/convert_sep_checkpoint.py (docs/finetune.md);
# its path: $SAMRS_SEP_INIT (or --cfg-options load_from=...).
_base_ = './mask2former_r50-imp_8xb1-80k_potsdam-512x512.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/mask2former_r50-imp-sep.pth}}'
model = dict(pretrained=None, backbone=dict(init_cfg=None))  # nothing to download
