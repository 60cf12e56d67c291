# MTP as released: MAE + MTP ViT-B + RVSA (ViTAE-Transformer/MTP Multi-Task_Pretrain/models.py,
# MutliTaskPretrnFramework): ViT-B + RVSA with an absolute position embedding for its input
# size (no class token) and decomposed relative positions over the whole token grid in the
# global layers (2, 5, 8, 11); UperNet 256 wide with one classifier per subset (background
# class 0: 19 / 21 / 38 classes); Mask R-CNN and Oriented R-CNN branches with per-subset
# fc_cls / fc_reg / mask logits, the rotated box regression one 5-output layer per subset.
# Converted by tools/model_converters/convert_released.py (docs/model_zoo.md); every task per
# subset: python tools/test.py configs/released/mtp/mtp_vit_rvsa_b.py CONVERTED.pth
# backbone.img_size is the size the position tables are for (a file trained at another size:
# --cfg-options model.backbone.img_size=N, for the converter and tools/test.py alike).
_base_ = '../../mtp/mtp_vit_rvsa_b.py'
model = dict(
    backbone=dict(img_size=224, use_abs_pos_embed=True, global_rel_pos=True, init_cfg=None),
    decode_head=dict(channels=256),
    rotated=dict(per_subset_regression=True))
