# SEP: UperNet ResNet-50 (IMP init), SOTA+SIOR+FAST, 80k iterations, global batch 96
# (8 GPUs x 12), crop 224, AdamW lr 1e-3 / wd 5e-2 / cosine to 1e-4 (paper Table 7).
#   tools/dist_train.sh configs/sep/upernet_r50.py 8
# CPU smoke run (2 iterations on a tiny set): see docs/sep.md.
_base_ = [
    '../_base_/models/sep_upernet_r50.py', '../_base_/datasets/samrs_sep.py',
    '../_base_/schedules/sep_80k_adamw.py', '../_base_/default_runtime.py'
]
