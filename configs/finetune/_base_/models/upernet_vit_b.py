# UperNet ViT-B/16 for fine-tuning (IMP init; mmseg's ViT + multi-level neck): the model of
# configs/sep/upernet_vit_b.py with stock heads, ViT row of the paper's Table 7. Leaf
# configs set backbone.img_size to the crop size; tools/convert_sep_checkpoint.py --config
# resizes the SEP position embedding.
_base_ = ['../../../_base_/models/upernet_vit_b.py', '../../../_base_/schedules/adamw_80k_vit.py']
