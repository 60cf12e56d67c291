# The released SAMRS UperNet ViTAEv2-S (IMP + SEP; fine-tuned Potsdam / iSAID): ViTAEv2-S
# (drop path 0.3), UperNet 128 wide (the encoder's third output), no auxiliary head.
_base_ = '../../../_base_/models/upernet_vitaev2_s.py'
model = dict(
    backbone=dict(init_cfg=None),
    decode_head=dict(channels=128),
    auxiliary_head=None)
