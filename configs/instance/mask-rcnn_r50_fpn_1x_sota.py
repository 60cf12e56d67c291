# Mask R-CNN R-50-FPN (ImageNet init, mmdet's model) on SAMRS SOTA instances (18 classes),
# 1x schedule (12 epochs, SGD 0.02 for 8 GPUs x 2 images). Data: configs/_base_/datasets/
# samrs_instance.py ($SAMRS_DATA_ROOT/sota). docs/samrs_tasks.md.
#   tools/dist_train.sh configs/instance/mask-rcnn_r50_fpn_1x_sota.py 8
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py', '../_base_/datasets/samrs_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py', '../_base_/det_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=18), mask_head=dict(num_classes=18)))
