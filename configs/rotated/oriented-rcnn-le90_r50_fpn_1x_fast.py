# Oriented R-CNN R-50-FPN le90 on SAMRS FAST (FAIR1M-2.0 patches, 37 classes, the FAIR1M
# R-Boxes), 1x. Data: $SAMRS_DATA_ROOT/fast.
_base_ = './oriented-rcnn-le90_r50_fpn_1x_sota.py'
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
model = dict(roi_head=dict(bbox_head=dict(num_classes=37)))
train_dataloader = dict(dataset=dict(type='FASTRotatedDataset', data_root=data_root + '/fast'))
val_dataloader = dict(dataset=dict(type='FASTRotatedDataset', data_root=data_root + '/fast'))
test_dataloader = val_dataloader
