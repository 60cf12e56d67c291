# UperNet Swin-T for fine-tuning (IMP init): the model of configs/sep/upernet_swin_t.py with
# stock heads, Swin row of the paper's Table 7.
_base_ = ['../../../_base_/models/upernet_swin_t.py',
          '../../../_base_/schedules/adamw_80k_swin.py']
