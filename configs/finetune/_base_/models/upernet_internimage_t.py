# UperNet InternImage-T for fine-tuning (IMP init: the official internimage_t_1k_224.pth,
# converted on load): the model of configs/sep/upernet_internimage_t.py with stock heads,
# InternImage-T row of the paper's Table 7.
_base_ = ['../../../_base_/models/upernet_internimage_t.py',
          '../../../_base_/schedules/adamw_80k_internimage.py']
