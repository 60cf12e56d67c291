# SEP: UperNet ViT-Adapter-B initialised from BEiT-B (ImageNet-22k, paper Tables 3 / 9):
# beit_base_patch16_224_pt22k_ft22k.pth, converted on load (q/v biases merged, layer scales
# kept; BEiT's relative position tables have no counterpart in this plain ViT and its missing
# absolute position embedding keeps its initialisation).
_base_ = './upernet_vit_adapter_b.py'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='{{$SAMRS_BEIT_B:pretrained/beit_base_patch16_224_pt22k_ft22k.pth}}')))
