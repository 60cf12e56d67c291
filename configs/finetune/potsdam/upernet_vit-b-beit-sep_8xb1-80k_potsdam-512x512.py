# SAMRS fine-tuning row: UperNet ViT-B | BEiT + SEP init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1). Backbone, neck and decoder come from
# the SEP checkpoint of configs/sep/upernet_vit_b_beit.py converted by
# tools/convert_sep_checkpoint.py --config <this file> (tables resized to the 512 grid);
# its path: $SAMRS_SEP_INIT (or --cfg-options load_from=...).
_base_ = './upernet_vit-b-beit_8xb1-80k_potsdam-512x512.py'
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/upernet_vit-b-beit-sep.pth}}'
model = dict(pretrained=None, backbone=dict(init_cfg=None))  # nothing to download
