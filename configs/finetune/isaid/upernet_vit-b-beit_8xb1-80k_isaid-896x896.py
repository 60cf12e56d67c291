# SAMRS fine-tuning row: UperNet ViT-B | BEiT init | 100 % of the train crops
# iSAID (foreground mIoU). mmseg's BEiT from the official BEiT-B file ($SAMRS_BEIT_B),
# converted on load, relative position tables resized to the 896 grid; sliding-window test.
_base_ = ['../_base_/models/upernet_vit_b_beit.py', '../_base_/isaid.py']
model = dict(
    data_preprocessor=dict(size=(896, 896), test_cfg=dict(size=(896, 896))),
    backbone=dict(img_size=(896, 896)),
    decode_head=dict(num_classes=16),
    auxiliary_head=dict(num_classes=16),
    test_cfg=dict(mode='slide', crop_size=(896, 896), stride=(512, 512)))
