# The released SAMRS UperNet Swin-T (IMP + SEP; fine-tuned Potsdam / iSAID): mmseg's Swin-T
# (the segmentation Swin's output norms norm0-3, drop path 0.3), UperNet 192 wide (the
# encoder's third output), no auxiliary head.
_base_ = '../../../_base_/models/upernet_swin_t.py'
model = dict(
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=192),
    auxiliary_head=None)
