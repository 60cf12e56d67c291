# The released SAMRS UperNet ViT-B (IMP + SEP and BEiT + SEP: both saved from the authors'
# backbone/vit.py): a plain ViT-B/16 with an absolute position embedding (1, 196, 768) and no
# class token, drop path 0.15, final norm; its simple feature pyramid (deconv-LN-GELU-deconv,
# deconv, identity, max-pool) is made from the normalised last layer only. Built by ViTRVSA's
# arguments (interval=1: every layer global). UperNet 768 wide, no auxiliary head.
# backbone.img_size is the size the position embedding is for (SEP: 224); other inputs get it
# resized bicubically.
_base_ = '../../../_base_/models/upernet_vit_rvsa_b.py'
model = dict(
    backbone=dict(
        interval=1, use_abs_pos_embed=True, final_norm=True, out_indices=(11, 11, 11, 11),
        drop_path_rate=0.15, init_cfg=None),
    decode_head=dict(channels=768),
    auxiliary_head=None)
