# Mask R-CNN R-50-FPN (ImageNet init) on SAMRS SIOR instances (DIOR images, 20 classes), 1x.
# Data: $SAMRS_DATA_ROOT/sior (images/*.jpg, instances/, train.txt, val.txt).
_base_ = './mask-rcnn_r50_fpn_1x_sota.py'
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
model = dict(roi_head=dict(bbox_head=dict(num_classes=20), mask_head=dict(num_classes=20)))
train_dataloader = dict(dataset=dict(type='SIORInstanceDataset', data_root=data_root + '/sior'))
val_dataloader = dict(dataset=dict(type='SIORInstanceDataset', data_root=data_root + '/sior'))
test_dataloader = val_dataloader
