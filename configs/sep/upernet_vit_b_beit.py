# SEP: UperNet ViT-B initialised from BEiT-B (ImageNet-22k; paper Tables 3 / 9, "BEiT + SEP"):
# mmseg's BEiT backbone (relative position bias per block, layer scale 0.1, q/v biases) as
# BEiTBackbone, which converts the official beit_base_patch16_224_pt22k_ft22k.pth on load
# ($SAMRS_BEIT_B), and mmseg's BEiT UperNet (Feature2Pyramid neck, layers 4/6/8/12).
# 80k iterations, global batch 96 (8 x 12), crop 224, AdamW lr 6e-5 / wd 5e-2 / cosine to 0,
# layer decay 0.9 (Table 7, ViT row); no weight decay on norms, biases, layer scales, class
# token and relative position tables.
#   SAMRS_BEIT_B=/path/to/beit_base_patch16_224_pt22k_ft22k.pth \
#       tools/dist_train.sh configs/sep/upernet_vit_b_beit.py 8
# mmseg's BEiT runs at one input size (its relative position index is built for img_size),
# so the 512 x 512 validation crops are predicted with a sliding 224 window (stride 144:
# 3 x 3 windows that tile the crop exactly); smaller images are padded to 224 for testing.
_base_ = [
    '../_base_/models/upernet_vit_b_beit.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k_vit.py', '../_base_/sep_runtime.py'
]
model = dict(
    data_preprocessor=dict(size=(224, 224), test_cfg=dict(size=(224, 224))),
    backbone=dict(img_size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'),
    test_cfg=dict(mode='slide', crop_size=(224, 224), stride=(144, 144)))
