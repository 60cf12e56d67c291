# SAMRS-MAE (paper A.4): MAE pre-training of a plain ViT-B/16 on the SAMRS training images
# cut to 384 x 384 with stride 300, through mmpretrain 1.2 (its MAE, MAEViT, decoder and
# pixel loss, used as they are). The result initialises ViT-B + RVSA for the "SAMRS-MAE"
# and "SAMRS-MAE + SEP" rows (convert it with tools/model_converters/convert_official.py
# vit_rvsa; docs/finetune.md).
#   tools/dist_train.sh configs/mae/mae_vit-base-p16_8xb256-coslr-1600e_samrs-384x384.py 8 --amp
# Schedule: the authors' MAE recipe for the RVSA ViT-B (ViTAE-Transformer/Remote-Sensing-RVSA,
# README "Pretraining": main_pretrain.py --model mae_vit_base_patch16 --batch_size 256 on
# 8 GPUs (2048) --epochs 1600 --warmup_epochs 40 --input_size 224 --mask_ratio 0.75
# --blr 1.5e-4 --weight_decay 0.05, no --norm_pix_loss; main_pretrain.py: lr = blr x
# batch / 256 = 1.2e-3, AdamW betas (0.9, 0.95), no decay on biases and norms, min lr 0,
# half-cycle cosine after the warm-up, AMP). The SAMRS paper gives the data, not the
# schedule: docs/finetune.md says what is assumed.
_base_ = [
    'mmpretrain::_base_/models/mae_vit-base-p16.py',
    '../_base_/datasets/samrs_mae_384.py',
    'mmpretrain::_base_/default_runtime.py',
]
# The plugin's runtime fixes (torch >= 2.6 checkpoints, CPU distributed, ...) apply here too.
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

# mask ratio 0.75 (MAEViT), decoder 512 wide x 8 blocks x 16 heads as MAE's ViT-B; the RVSA
# recipe reconstructs raw (not per-patch normalised) pixels.
model = dict(backbone=dict(mask_ratio=0.75), head=dict(norm_pix=False))

max_epochs = 1600
warmup_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-4 * 2048 / 256, betas=(0.9, 0.95), weight_decay=0.05),
    # timm's add_weight_decay, as the authors' script: no decay on biases and 1-D (norm)
    # tensors only; the class / mask tokens are decayed (mmpretrain's own MAE config exempts
    # them). The position tables are fixed sin-cos tables, not trained.
    paramwise_cfg=dict(custom_keys={'ln': dict(decay_mult=0.0), 'bias': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0.0, by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=100),
    # every 20 epochs (as the authors' script), the last 3 kept; --resume continues
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=3))
randomness = dict(seed=0, diff_rank_seed=True)
# The rates are for the global batch of 2048; set enable=True to scale them linearly.
auto_scale_lr = dict(enable=False, base_batch_size=2048)
