# SAMRS-MAE smoke run (seconds on 2 CPU cores): configs/mae/mae_vit-base-p16_8xb256-coslr-1600e_samrs-384x384.py
# with a 4-layer, 32-wide ViT and a 1-block decoder, batch 2, one epoch. Data: crops of
# tools/dataset_converters/samrs_mae.py under $SAMRS_MAE_DATA_ROOT, as the real config:
#   python tools/dataset_converters/samrs_mae.py work_dirs/demo/samrs/sota -o work_dirs/smoke/mae_crops \
#     --crop-size 96 --stride 300
#   SAMRS_MAE_DATA_ROOT=work_dirs/smoke/mae_crops python tools/train.py configs/smoke/mae.py \
#     --work-dir work_dirs/smoke/mae
# docs/smoke_configs.md, docs/finetune.md. The tests train this config (tools/dist_train.sh, 2 CPU processes).
_base_ = ['../mae/mae_vit-base-p16_8xb256-coslr-1600e_samrs-384x384.py']
model = dict(
    backbone=dict(arch=dict(_delete_=True, embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=128)),
    neck=dict(embed_dim=32, decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2))
train_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
