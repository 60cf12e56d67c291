# UperNet InternImage-T (IMP init: the official internimage_t_1k_224.pth, converted on
# load), stock heads. DCNv3 runs in pure PyTorch unless InternImage's compiled `DCNv3`
# extension is importable.
_base_ = './upernet_swin_t.py'
model = dict(
    backbone=dict(
        _delete_=True, type='InternImage', channels=64, depths=[4, 4, 18, 4],
        groups=[4, 8, 16, 32], mlp_ratio=4., drop_path_rate=0.2, layer_scale=1.0,
        offset_scale=1.0, post_norm=False,
        init_cfg=dict(type='Pretrained',
                      checkpoint='{{$SAMRS_INTERNIMAGE_T_IMP:pretrained/internimage_t_1k_224.pth}}')),
    decode_head=dict(in_channels=[64, 128, 256, 512]),
    auxiliary_head=dict(in_channels=256))
