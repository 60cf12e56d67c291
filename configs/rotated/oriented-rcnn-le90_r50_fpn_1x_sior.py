# Oriented R-CNN R-50-FPN le90 on SAMRS SIOR (DIOR images, 20 classes), 1x. Rotated boxes come
# from the annotation the SIOR labels were made from: label DIOR's "Oriented Bounding Boxes"
# (DIOR-R) to keep R-Boxes; labels made from the horizontal boxes give angle-0 boxes, or use
# rbox_source='mask' (the SAM mask's min-area rectangle). Data: $SAMRS_DATA_ROOT/sior.
_base_ = './oriented-rcnn-le90_r50_fpn_1x_sota.py'
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
model = dict(roi_head=dict(bbox_head=dict(num_classes=20)))
train_dataloader = dict(dataset=dict(type='SIORRotatedDataset', data_root=data_root + '/sior'))
val_dataloader = dict(dataset=dict(type='SIORRotatedDataset', data_root=data_root + '/sior'))
test_dataloader = val_dataloader
