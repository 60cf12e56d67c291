# SAMRS multi-task pre-training data: every image of SOTA + SIOR + FAST with its semantic map,
# its instances (masks; boxes = the masks' extent) and their rotated boxes, mixed by
# MultiSourceSampler. Layout under $SAMRS_DATA_ROOT (default data/samrs), as SEP's plus the
# per-image instance files of tools/samrs_annotate.py (or the release's ins/<name>.pkl):
#   <subset>/images/  <subset>/semantic/  <subset>/instances/  <subset>/train.txt  <subset>/val.txt
# Defaults from the authors' MTP run (ViTAE-Transformer/MTP, Readme.md "Performing Multi-Task
# Pretraining": --image_size 448 --batch_size 3 on 32 GPUs --batch_mode 'avg'; utils.py
# set_configs: flips h/v/diagonal p=0.75, random resize 0.5-2 of the crop, random crop,
# photometric distortion; validation resized to the crop size). Added: SEP's random 90-degree
# turn. One pipeline moves image, semantic map, masks and boxes together; the rotated boxes
# follow the recorded transforms (samrs_mm/datasets/multitask_transforms.py).
data_root = '{{$SAMRS_DATA_ROOT:data/samrs}}'
crop_size = (448, 448)
# The subsets have different class lists: ConcatDataset must not insist they agree.
concat_ignore_keys = ['classes', 'palette', 'label_map', 'reduce_zero_label']
meta_keys = ('img_id', 'img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'scale_factor', 'flip',
             'flip_direction', 'subset', 'subset_index')
load = [
    dict(type='LoadImageFromFile'),
    dict(type='mmdet.LoadAnnotations', with_bbox=True, with_mask=True, with_seg=True),
    dict(type='LoadRotatedBoxes'),
]
augment = [
    dict(type='mmdet.RandomResize', scale=crop_size, ratio_range=(0.5, 2.0), keep_ratio=True,
         resize_type='mmdet.Resize'),
    dict(type='mmdet.RandomCrop', crop_size=crop_size, crop_type='absolute', recompute_bbox=True,
         allow_negative_crop=True),
    dict(type='mmdet.RandomFlip', prob=0.75, direction=['horizontal', 'vertical', 'diagonal']),
    dict(type='RandomRot90', prob=0.5),
    dict(type='mmdet.PhotoMetricDistortion'),
    dict(type='PackMultiTaskInputs', meta_keys=meta_keys),
]
# Validation at the crop size (MTP's), ground truth loaded after the resize so it stays in the
# image's own frame (predictions are mapped back); 'instances' feed CocoMetric's ground truth.
val_tail = [
    dict(type='mmdet.Resize', scale=crop_size, keep_ratio=True),
    dict(type='mmdet.LoadAnnotations', with_bbox=False, with_label=False, with_seg=True),
    dict(type='LoadRotatedBoxes'),
    dict(type='PackMultiTaskInputs', meta_keys=meta_keys + ('instances',)),
]
subsets = [('sota', 'SOTAMultiTaskDataset'), ('sior', 'SIORMultiTaskDataset'), ('fast', 'FASTMultiTaskDataset')]
train_sets = [
    dict(type=dataset, data_root=f'{data_root}/{name}', ann_file='train.txt',
         data_prefix=dict(img='images', ins='instances', seg='semantic'), rbox_source='annotation',
         pipeline=load + [dict(type='TagSubset', subset=name, subset_index=index)] + augment)
    for index, (name, dataset) in enumerate(subsets)
]
val_sets = [
    dict(type=dataset, data_root=f'{data_root}/{name}', ann_file='val.txt', test_mode=True,
         data_prefix=dict(img='images', ins='instances', seg='semantic'), rbox_source='annotation',
         pipeline=[dict(type='LoadImageFromFile'), dict(type='TagSubset', subset=name, subset_index=index)]
         + val_tail)
    for index, (name, dataset) in enumerate(subsets)
]
train_dataloader = dict(
    batch_size=3,  # per GPU, MultiSourceSampler's: MTP's 32 GPUs x 3 = 96 (avg: 1 per subset per GPU)
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    sampler=dict(type='InfiniteSampler', shuffle=False),
    # MTP's 'avg': every subset the same share of the global batch; mode='ratio' for SEP's
    # proportional shares
    batch_sampler=dict(type='MultiSourceSampler', mode='avg'),
    dataset=dict(type='ConcatDataset', ignore_keys=concat_ignore_keys, datasets=train_sets))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='ConcatDataset', ignore_keys=concat_ignore_keys, datasets=val_sets))
test_dataloader = val_dataloader
# mIoU per subset (PerSubsetIoUMetric), bbox / segm mAP per subset (mmdet's CocoMetric),
# rotated mAP per subset (mmrotate's DOTAMetric), in one run.
val_evaluator = dict(type='MultiTaskMetric', subsets=['sota', 'sior', 'fast'])
test_evaluator = val_evaluator
