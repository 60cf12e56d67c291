# iSAID instance segmentation (15 classes, 896 x 896 crops): Mask R-CNN R-50-FPN with SEP's
# ResNet-50 (ResNetV1c), ImageNet init; 1x schedule (12 epochs, SGD 0.02 for 8 GPUs x 2).
# CocoMetric bbox + segm on val. Data: tools/dataset_converters/isaid_instances.py.
#   tools/dist_train.sh configs/finetune/isaid_instance/mask-rcnn_r50-imp_fpn_1x_isaid-896x896.py 8
_base_ = [
    '../../_base_/models/mask-rcnn_r50-v1c_fpn.py', '../../_base_/datasets/isaid_instance_896x896.py',
    'mmdet::_base_/schedules/schedule_1x.py', '../../_base_/det_runtime.py'
]
model = dict(roi_head=dict(bbox_head=dict(num_classes=15), mask_head=dict(num_classes=15)))
