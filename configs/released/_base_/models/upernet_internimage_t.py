# The released SAMRS UperNet InternImage-T (IMP + SEP; fine-tuned Potsdam / iSAID):
# InternImage-T (layer scale 1.0, drop path 0.2), UperNet 128 wide, no auxiliary head.
_base_ = '../../../_base_/models/upernet_internimage_t.py'
model = dict(
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=128),
    auxiliary_head=None)
