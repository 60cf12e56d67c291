# SEP: Mask2Former ResNet-50 (IMP init) with one class embedding per SAMRS subset
# (MultiSubsetMask2FormerHead: shared pixel and transformer decoders); 80k iterations,
# global batch 96 (8 x 12), crop 224, AdamW lr 1e-3 / wd 5e-2 / cosine to 1e-4 (the paper's
# ResNet setting, Table 7), no weight decay on queries and level embeddings.
# Distributed runs need every subset in every per-GPU batch (true for 8 x 12: the smallest
# share, SIOR, is 12 >= 8 GPUs); the head says so if not.
_base_ = [
    '../_base_/models/mask2former_r50.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/adamw_80k.py', '../_base_/sep_runtime.py'
]
custom_imports = dict(imports=['samrs_mm', 'mmdet.models'], allow_failed_imports=False)
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiSubsetMask2FormerHead'))
optim_wrapper = dict(
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(custom_keys={
        'query_embed': dict(lr_mult=1.0, decay_mult=0.0),
        'query_feat': dict(lr_mult=1.0, decay_mult=0.0),
        'level_embed': dict(lr_mult=1.0, decay_mult=0.0),
    }, norm_decay_mult=0.0))
