# UperNet ViT-B + RVSA for fine-tuning (MAE init: the MillionAID MAE ViT-B of the RVSA paper,
# converted on load): the model of configs/sep/upernet_vit_rvsa_b.py with stock heads, ViT
# row of the paper's Table 7. Any crop size works (no absolute position embedding).
_base_ = ['../../../_base_/models/upernet_vit_rvsa_b.py',
          '../../../_base_/schedules/adamw_80k_vit.py']
