# Fine-tuning on potsdam with the released SAMRS Mask2Former ResNet-50 (docs/model_zoo.md): the
# recipe of configs/finetune/potsdam/mask2former_r50-imp_8xb1-80k_potsdam-512x512.py on the released
# architecture (trainable SyncBN), from a converted SEP model:
#   python tools/convert_sep_checkpoint.py CONVERTED_SEP.pth sep_init.pth \
#       --config configs/released/finetune/potsdam/mask2former_r50.py
#   SAMRS_SEP_INIT=sep_init.pth python tools/train.py configs/released/finetune/potsdam/mask2former_r50.py
# Potsdam: F1 per class, OA, mF1. Test: sliding 512 x 512 windows at the authors' 2/3 stride (342).
_base_ = ['../../../finetune/potsdam/mask2former_r50-imp_8xb1-80k_potsdam-512x512.py', '../_base_/flip_tta.py']
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/released_mask2former_r50.pth}}'
model = dict(
    backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True), init_cfg=None),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(342, 342)))
