# The released SAMRS UperNet ViT-Adapter-B (IMP + SEP; fine-tuned Potsdam): ViT-Adapter-B
# (12 deformable heads, deform ratio 0.5, CFFN ratio 0.25, layer scale, drop path 0.3,
# SyncBN output norms), UperNet 768 wide, no auxiliary head.
_base_ = '../../../_base_/models/upernet_vit_adapter_b.py'
model = dict(
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=768),
    auxiliary_head=None)
