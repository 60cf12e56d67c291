# SAMRS fine-tuning row: UperNet ViT-B | BEiT init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1). mmseg's BEiT from the official BEiT-B file ($SAMRS_BEIT_B),
# converted on load, relative position tables resized to the 512 grid; sliding-window test.
_base_ = ['../_base_/models/upernet_vit_b_beit.py', '../_base_/potsdam.py']
model = dict(
    data_preprocessor=dict(size=(512, 512), test_cfg=dict(size=(512, 512))),
    backbone=dict(img_size=(512, 512)),
    decode_head=dict(num_classes=5),
    auxiliary_head=dict(num_classes=5),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
