# Fine-tuning on potsdam with the released SAMRS UperNet ResNet-50 (docs/model_zoo.md):
# tests the authors' fine-tuned model, or fine-tunes from a converted SEP model:
#   python tools/convert_sep_checkpoint.py CONVERTED_SEP.pth sep_init.pth \
#       --config configs/released/finetune/potsdam/upernet_r50.py
#   SAMRS_SEP_INIT=sep_init.pth python tools/train.py configs/released/finetune/potsdam/upernet_r50.py
#   python tools/test.py configs/released/finetune/potsdam/upernet_r50.py CONVERTED.pth --tta
# Potsdam: F1 per class, OA, mF1 (paper Table 3). Batch 8 (8 GPUs x 1), 80k iterations.
# Test: sliding 512 x 512 windows at the authors' 2/3 stride (342); --tta adds their flip.
_base_ = ['../../_base_/models/upernet_r50.py', '../../../finetune/_base_/potsdam.py',
          '../../../_base_/schedules/adamw_80k.py', '../_base_/flip_tta.py']
load_from = '{{$SAMRS_SEP_INIT:checkpoints/sep_init/released_upernet_r50.pth}}'
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    decode_head=dict(num_classes=5),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(342, 342)))
