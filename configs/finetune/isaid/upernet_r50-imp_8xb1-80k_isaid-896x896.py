# SAMRS fine-tuning row: UperNet R-50 | IMP init | 100 % of the train crops
# iSAID (foreground mIoU). Batch 8 (8 GPUs x 1), 80k iterations, sliding-window test.
_base_ = ['../_base_/models/upernet_r50.py', '../_base_/isaid.py']
model = dict(
    data_preprocessor=dict(size=(896, 896)),
    decode_head=dict(num_classes=16),
    auxiliary_head=dict(num_classes=16),
    test_cfg=dict(mode='slide', crop_size=(896, 896), stride=(512, 512)))
