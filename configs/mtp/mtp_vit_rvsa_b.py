# MTP with ViT-B + RVSA (MAE init, $SAMRS_MAE_VITB_MILLIONAID): the authors' setting at base
# size (they published ViT-B / ViT-L + RVSA): 80k iterations, crop 448, 3 images per GPU
# (32 GPUs = 96), background class on, AdamW lr 6e-5 / wd 5e-2 / cosine to 0 / layer decay 0.9
# (their main_pretrain.py for vit_b_rvsa, = Table 7's ViT row), gradient clipping at norm 5.
#   tools/dist_train.sh configs/mtp/mtp_vit_rvsa_b.py 8
# Design and the CPU smoke run: docs/mtp.md.
_base_ = [
    '../_base_/models/mtp_upernet_vit_rvsa_b.py', '../_base_/datasets/samrs_mtp.py',
    '../_base_/schedules/adamw_80k_vit.py', '../_base_/mtp_runtime.py'
]
optim_wrapper = dict(clip_grad=dict(max_norm=5, norm_type=2))
