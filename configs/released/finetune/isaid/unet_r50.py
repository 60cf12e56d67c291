# Fine-tuning on isaid with the released SAMRS UNet ResNet-50 (docs/model_zoo.md):
# tests the authors' fine-tuned model, or fine-tunes from a converted SEP model:
#   python tools/convert_sep_checkpoint.py CONVERTED_SEP.pth sep_init.pth \
#       --config configs/released/finetune/isaid/unet_r50.py
#   SAMRS_SEP_INIT=sep_init.pth python tools/train.py configs/released/finetune/isaid/unet_r50.py
#   python tools/test.py configs/released/finetune/isaid/unet_r50.py CONVERTED.pth --tta
# iSAID: mIoU over the 15 foreground classes (paper Table 3). Batch 8 (8 GPUs x 1), 80k iterations.
# Test: sliding 896 x 896 windows at the authors' 2/3 stride (598); --tta adds their flip.
_base_ = ['../../_base_/models/unet_r50.py', '../../../finetune/_base_/isaid.py',
          '../../../_base_/schedules/adamw_80k.py', '../_base_/flip_tta.py']
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/released_unet_r50.pth}}'
model = dict(
    data_preprocessor=dict(size=(896, 896)),
    decode_head=dict(num_classes=16),
    test_cfg=dict(mode='slide', crop_size=(896, 896), stride=(598, 598)))
