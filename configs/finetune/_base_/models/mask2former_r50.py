# Mask2Former ResNet-50 for fine-tuning (IMP init): the model of configs/sep/mask2former_r50.py
# with mmseg's Mask2FormerHead. Leaf configs set num_classes and loss_cls.class_weight
# (num_classes x 1.0, then 0.1 for "no object"), and custom_imports += 'mmdet.models'.
# Optimiser of the authors' Mask2Former fine-tuning: AdamW lr 1e-4, wd 5e-2, backbone lr
# x0.1, no decay on queries / level embeddings / norms, gradient clipping at 0.01, cosine.
_base_ = ['../../../_base_/models/mask2former_r50.py', '../../../_base_/schedules/adamw_80k.py']
model = dict(decode_head=dict(
    num_classes=19, loss_cls=dict(class_weight=[1.0] * 19 + [0.1])))
embed_multi = dict(lr_mult=1.0, decay_mult=0.0)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=5e-2, eps=1e-8),
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        custom_keys={
            'backbone': dict(lr_mult=0.1, decay_mult=1.0),
            'query_embed': embed_multi,
            'query_feat': embed_multi,
            'level_embed': embed_multi,
        },
        norm_decay_mult=0.0))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max={{_base_.max_iters}}, eta_min=0.0, by_epoch=False,
         begin=0, end={{_base_.max_iters}})
]
