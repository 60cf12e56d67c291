# The released SAMRS UperNet ViT-B + RVSA (MAE + SEP and SAMRS-MAE + SEP): ViT-B + RVSA as
# SAMRS trained it (no absolute position embedding, global attention in layers 2, 5, 8, 11,
# drop path 0.1), UperNet 768 wide, no auxiliary head.
_base_ = '../../../_base_/models/upernet_vit_rvsa_b.py'
model = dict(
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=768),
    auxiliary_head=None)
