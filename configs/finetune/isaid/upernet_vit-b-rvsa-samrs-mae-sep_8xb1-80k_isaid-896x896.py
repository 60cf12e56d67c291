# SAMRS fine-tuning row: UperNet ViT-B + RVSA | SAMRS-MAE + SEP init | 100 % of the train crops
# iSAID (foreground mIoU). Backbone, neck and decoder come from the SEP
# checkpoint of configs/sep/upernet_vit_rvsa_b_samrs_mae.py converted by
# tools/convert_sep_checkpoint.py (docs/finetune.md); its path: $SAMRS_SEP_INIT (or
# --cfg-options load_from=...).
_base_ = './upernet_vit-b-rvsa-samrs-mae_8xb1-80k_isaid-896x896.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/upernet_vit-b-rvsa-samrs-mae-sep.pth}}'
model = dict(pretrained=None, backbone=dict(init_cfg=None))  # nothing to download
