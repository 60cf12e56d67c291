# UperNet ViT-B/16 (IMP init; mmseg's ViT + multi-level neck), stock heads. backbone.img_size
# is the training crop (SEP: 224; fine-tuning leaves: their crop, the SEP position
# embedding being resized by tools/convert_sep_checkpoint.py --config).
_base_ = 'mmseg::_base_/models/upernet_vit-b16_ln_mln.py'
model = dict(
    pretrained='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/vit/vit_base_patch16_224.pth',  # noqa
    backbone=dict(drop_path_rate=0.1, final_norm=True))
