# SAMRS fine-tuning row: UperNet InternImage-T | IMP init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1). Batch 8 (8 GPUs x 1), 80k iterations, sliding-window test.
_base_ = ['../_base_/models/upernet_internimage_t.py', '../_base_/potsdam.py']
model = dict(
    data_preprocessor=dict(size=(512, 512)),
    decode_head=dict(num_classes=5),
    auxiliary_head=dict(num_classes=5),
    test_cfg=dict(mode='slide', crop_size=(512, 512), stride=(341, 341)))
