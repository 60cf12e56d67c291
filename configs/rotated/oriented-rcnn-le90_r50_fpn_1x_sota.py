# Oriented R-CNN R-50-FPN le90 (ImageNet init; mmrotate's model) on SAMRS SOTA rotated boxes
# (18 classes, R-Box of the DOTA-v2.0 annotation), 1x schedule (12 epochs, SGD 0.005 as
# mmrotate's DOTA config). Data: configs/_base_/datasets/samrs_rotated.py. docs/samrs_tasks.md.
#   tools/dist_train.sh configs/rotated/oriented-rcnn-le90_r50_fpn_1x_sota.py 8
_base_ = [
    '../_base_/models/oriented-rcnn-le90_r50_fpn.py', '../_base_/datasets/samrs_rotated.py',
    'mmrotate::_base_/schedules/schedule_1x.py', '../_base_/rotated_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=18)))
optim_wrapper = dict(optimizer=dict(lr=0.005))
