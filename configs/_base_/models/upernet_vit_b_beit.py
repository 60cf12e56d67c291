# UperNet ViT-B with BEiT's backbone (BEiT init: the official
# beit_base_patch16_224_pt22k_ft22k.pth from $SAMRS_BEIT_B, converted on load), stock heads:
# mmseg's BEiT UperNet (Feature2Pyramid neck, layers 4/6/8/12) with mmseg's BEiT (relative
# position bias per block, layer scale 0.1, q/v biases) as BEiTBackbone. mmseg's BEiT runs
# at one input size (its relative position index is built for img_size): users set
# backbone.img_size to the training crop and slide the test window at it. The 224 relative
# position tables are resized to that grid on load (official file), or by
# tools/convert_sep_checkpoint.py --config (SEP checkpoint).
_base_ = 'mmseg::_base_/models/upernet_beit.py'
model = dict(
    backbone=dict(
        type='BEiTBackbone',
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_BEIT_B:pretrained/beit_base_patch16_224_pt22k_ft22k.pth}}')))
