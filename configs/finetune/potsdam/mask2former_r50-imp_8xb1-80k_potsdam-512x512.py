# SAMRS fine-tuning row: Mask2Former R-50 | IMP init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1). Batch 8 (8 GPUs x 1), 80k iterations, sliding-window test.
_base_ = ['../_base_/models/mask2former_r50.py', '../_base_/potsdam.py']
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    decode_head=dict(num_classes=5, loss_cls=dict(class_weight=[1.0] * 5 + [0.1])),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
custom_imports = dict(imports=['samrs_mm', 'mmdet.models'], allow_failed_imports=False)
