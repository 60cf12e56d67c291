# Mask R-CNN R-50-FPN (ImageNet init) on SAMRS FAST instances (FAIR1M-2.0 patches, 37
# classes), 1x. Data: $SAMRS_DATA_ROOT/fast (images/, instances/, train.txt, val.txt).
_base_ = './mask-rcnn_r50_fpn_1x_sota.py'
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
model = dict(roi_head=dict(bbox_head=dict(num_classes=37), mask_head=dict(num_classes=37)))
train_dataloader = dict(dataset=dict(type='FASTInstanceDataset', data_root=data_root + '/fast'))
val_dataloader = dict(dataset=dict(type='FASTInstanceDataset', data_root=data_root + '/fast'))
test_dataloader = val_dataloader
