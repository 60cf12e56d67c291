# DIOR-R rotated-box detection (20 classes): Oriented R-CNN R-50-FPN le90 with SEP's ResNet-50
# (ResNetV1c), ImageNet init; 1x schedule (12 epochs, SGD 0.005 as mmrotate's Oriented R-CNN).
# DOTAMetric mAP on DIOR's test list. Data: configs/_base_/datasets/dior_r.py ($DIOR_ROOT).
_base_ = [
    '../../_base_/models/oriented-rcnn-le90_r50-v1c_fpn.py', '../../_base_/datasets/dior_r.py',
    'mmrotate::_base_/schedules/schedule_1x.py', '../../_base_/rotated_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
optim_wrapper = dict(optimizer=dict(lr=0.005))
