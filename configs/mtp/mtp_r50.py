# MTP: multi-task pre-training on SOTA + SIOR + FAST (semantic UperNet, instance Mask R-CNN,
# rotated Oriented R-CNN) with ResNet-50 (IMP init), 80k iterations, crop 448, 3 images per GPU
# (MTP's defaults: 32 GPUs = global batch 96, one image per subset per GPU), background class on,
# AdamW lr 1e-3 / wd 5e-2 / cosine to 1e-4 (Table 7's ResNet row; MTP published no ResNet run),
# gradient clipping at norm 5 (MTP's loop).
#   tools/dist_train.sh configs/mtp/mtp_r50.py 8            (8 GPUs: global batch 24)
#   GPUS=32 tools/slurm_train.sh <partition> mtp configs/mtp/mtp_r50.py work_dirs/mtp_r50   (the authors' 32)
# Design and the CPU smoke run: docs/mtp.md.
_base_ = [
    '../_base_/models/mtp_upernet_r50.py', '../_base_/datasets/samrs_mtp.py',
    '../_base_/schedules/adamw_80k.py', '../_base_/mtp_runtime.py'
]
optim_wrapper = dict(clip_grad=dict(max_norm=5, norm_type=2))
