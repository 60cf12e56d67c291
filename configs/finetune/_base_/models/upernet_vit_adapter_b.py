# UperNet ViT-Adapter-B for fine-tuning (IMP init: DeiT-B, converted on load): the model of
# configs/sep/upernet_vit_adapter_b.py with stock heads, ViT-Adapter-B row of the paper's
# Table 7. Any crop size works (the position embedding is resized in the forward pass).
_base_ = ['../../../_base_/models/upernet_vit_adapter_b.py',
          '../../../_base_/schedules/adamw_80k_vit_adapter.py']
