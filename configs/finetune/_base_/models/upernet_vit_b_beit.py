# UperNet ViT-B with BEiT's backbone for fine-tuning (BEiT init, $SAMRS_BEIT_B): the model of
# configs/sep/upernet_vit_b_beit.py with stock heads, ViT row of the paper's Table 7. Leaf
# configs set backbone.img_size to the crop size and slide at it; the SEP checkpoint's
# relative position tables are resized by tools/convert_sep_checkpoint.py --config.
_base_ = ['../../../_base_/models/upernet_vit_b_beit.py',
          '../../../_base_/schedules/adamw_80k_vit.py']
