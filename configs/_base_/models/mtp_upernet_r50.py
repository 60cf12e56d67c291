# Multi-task pre-training (MTP) model: one backbone, three task branches, per-subset last layers.
# - backbone + semantic branch: SEP's UperNet ResNet-50 (mmseg's upernet_r50 base: ResNetV1c,
#   IMP init), the decode head as MultiHeadDecodeHead (one 1x1 classifier per subset); no
#   auxiliary head (MTP has none);
# - instance branch: mmdet's Mask R-CNN R-50-FPN (mmdet::_base_/models/mask-rcnn_r50_fpn.py,
#   written out below without its backbone; a test keeps the two equal key for key), per-subset
#   fc_cls / fc_reg / conv_logits;
# - rotated branch: mmrotate's Oriented R-CNN le90 (../models/oriented-rcnn-le90_r50_fpn.py
#   without its backbone, same test), per-subset fc_cls (its box regression is class-agnostic).
# num_classes of the heads are set by the model from `subsets` (default SOTA 18, SIOR 20, FAST 37).
# The ViT-B + RVSA variant: ./mtp_upernet_vit_rvsa_b.py. Design: docs/mtp.md.
_base_ = 'mmseg::_base_/models/upernet_r50.py'
angle_version = 'le90'
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(
        _delete_=True,
        type='MultiTaskDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255,
        boxtype2tensor=True),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=None,
    # MTP: uncovered pixels are a background class 0 of every semantic head (False: ignored, as SEP)
    background=True,
    task_loss_weights=dict(semantic=1.0, instance=1.0, rotated=1.0),
    subset_loss_weights=dict(sota=1.0, sior=1.0, fast=1.0),
    # mmdet scope
    instance=dict(
        type='MaskRCNN',
        neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
        rpn_head=dict(
            type='RPNHead',
            in_channels=256,
            feat_channels=256,
            anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                                  strides=[4, 8, 16, 32, 64]),
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                            target_stds=[1.0, 1.0, 1.0, 1.0]),
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
        roi_head=dict(
            type='StandardRoIHead',
            bbox_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
                out_channels=256,
                featmap_strides=[4, 8, 16, 32]),
            bbox_head=dict(
                type='Shared2FCBBoxHead',
                in_channels=256,
                fc_out_channels=1024,
                roi_feat_size=7,
                bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                                target_stds=[0.1, 0.1, 0.2, 0.2]),
                reg_class_agnostic=False,
                loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
            mask_roi_extractor=dict(
                type='SingleRoIExtractor',
                roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
                out_channels=256,
                featmap_strides=[4, 8, 16, 32]),
            mask_head=dict(
                type='FCNMaskHead',
                num_convs=4,
                in_channels=256,
                conv_out_channels=256,
                loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                              match_low_quality=True, ignore_iof_thr=-1),
                sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                             add_gt_as_proposals=False),
                allowed_border=-1,
                pos_weight=-1,
                debug=False),
            rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                              min_bbox_size=0),
            rcnn=dict(
                assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                              match_low_quality=True, ignore_iof_thr=-1),
                sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                             add_gt_as_proposals=True),
                mask_size=28,
                pos_weight=-1,
                debug=False)),
        test_cfg=dict(
            rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                      mask_thr_binary=0.5))),
    # mmrotate scope (mmdet's classes as mmdet.<name>)
    rotated=dict(
        type='mmdet.FasterRCNN',
        neck=dict(type='mmdet.FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
        rpn_head=dict(
            type='OrientedRPNHead',
            in_channels=256,
            feat_channels=256,
            anchor_generator=dict(type='mmdet.AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                                  strides=[4, 8, 16, 32, 64], use_box_type=True),
            bbox_coder=dict(type='MidpointOffsetCoder', angle_version=angle_version,
                            target_means=[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                            target_stds=[1.0, 1.0, 1.0, 1.0, 0.5, 0.5]),
            loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
            loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=0.1111111111111111, loss_weight=1.0)),
        roi_head=dict(
            type='mmdet.StandardRoIHead',
            bbox_roi_extractor=dict(
                type='RotatedSingleRoIExtractor',
                roi_layer=dict(type='RoIAlignRotated', out_size=7, sample_num=2, clockwise=True),
                out_channels=256,
                featmap_strides=[4, 8, 16, 32]),
            bbox_head=dict(
                type='mmdet.Shared2FCBBoxHead',
                predict_box_type='rbox',
                in_channels=256,
                fc_out_channels=1024,
                roi_feat_size=7,
                reg_predictor_cfg=dict(type='mmdet.Linear'),
                cls_predictor_cfg=dict(type='mmdet.Linear'),
                bbox_coder=dict(type='DeltaXYWHTRBBoxCoder', angle_version=angle_version, norm_factor=None,
                                edge_swap=True, proj_xy=True, target_means=(.0, .0, .0, .0, .0),
                                target_stds=(0.1, 0.1, 0.2, 0.2, 0.1)),
                reg_class_agnostic=True,
                loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
                loss_bbox=dict(type='mmdet.SmoothL1Loss', beta=1.0, loss_weight=1.0))),
        train_cfg=dict(
            rpn=dict(
                assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                              match_low_quality=True, ignore_iof_thr=-1,
                              iou_calculator=dict(type='RBbox2HBboxOverlaps2D')),
                sampler=dict(type='mmdet.RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                             add_gt_as_proposals=False),
                allowed_border=0,
                pos_weight=-1,
                debug=False),
            rpn_proposal=dict(nms_pre=2000, max_per_img=2000, nms=dict(type='nms', iou_threshold=0.8),
                              min_bbox_size=0),
            rcnn=dict(
                assigner=dict(type='mmdet.MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                              match_low_quality=False, iou_calculator=dict(type='RBboxOverlaps2D'),
                              ignore_iof_thr=-1),
                sampler=dict(type='mmdet.RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                             add_gt_as_proposals=True),
                pos_weight=-1,
                debug=False)),
        test_cfg=dict(
            rpn=dict(nms_pre=2000, max_per_img=2000, nms=dict(type='nms', iou_threshold=0.8), min_bbox_size=0),
            rcnn=dict(nms_pre=2000, min_bbox_size=0, score_thr=0.05,
                      nms=dict(type='nms_rotated', iou_threshold=0.1), max_per_img=2000))),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
