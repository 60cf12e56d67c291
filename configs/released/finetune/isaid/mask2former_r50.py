# Fine-tuning on isaid with the released SAMRS Mask2Former ResNet-50 (docs/model_zoo.md): the
# recipe of configs/finetune/isaid/mask2former_r50-imp_8xb1-80k_isaid-896x896.py on the released
# architecture (trainable SyncBN), from a converted SEP model:
#   python tools/convert_sep_checkpoint.py CONVERTED_SEP.pth sep_init.pth \
#       --config configs/released/finetune/isaid/mask2former_r50.py
#   SAMRS_SEP_INIT=sep_init.pth python tools/train.py configs/released/finetune/isaid/mask2former_r50.py
# iSAID: foreground mIoU. Test: sliding 896 x 896 windows at the authors' 2/3 stride (598).
_base_ = ['../../../finetune/isaid/mask2former_r50-imp_8xb1-80k_isaid-896x896.py', '../_base_/flip_tta.py']
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/released_mask2former_r50.pth}}'
model = dict(
    backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=True), init_cfg=None),
    test_cfg=dict(mode='slide', crop_size=(896, 896), stride=(598, 598)))
