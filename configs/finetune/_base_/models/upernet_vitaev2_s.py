# UperNet ViTAEv2-S for fine-tuning (IMP init: the official ImageNet ViTAEv2-S, converted on
# load; see docs/backbones.md): the model of configs/sep/upernet_vitaev2.py with stock
# heads, ViTAEv2-S row of the paper's Table 7.
_base_ = ['../../../_base_/models/upernet_vitaev2_s.py',
          '../../../_base_/schedules/adamw_80k_vitaev2.py']
