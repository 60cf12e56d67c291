"""Architectures of the SAM families, without weights: the official ones and small test ones.

Every builder returns a model in eval mode with random weights (:mod:`.models` loads
checkpoints and seeds the random state). The packages are imported only when a builder
runs, so the engine imports without them.

The ``tiny_test`` architectures keep each family's frames exactly (input resolution, patch
stride, image-embedding grid, low-resolution mask size, high-resolution feature maps,
output tokens, decoder flags), so prompts, padding, mask inputs and post-processing are
exercised as with the official models, but have 1-2 encoder blocks and 32-wide decoders.
They are made of the packages' own modules and run through the packages' own predictors
(``SamPredictor``, HQ-SAM's ``SamPredictor``, ``SAM2ImagePredictor``, SAM 3's
``Sam3Processor`` + ``predict_inst``); only meaningful with random weights.

SAM 3 is built as :class:`Sam3InteractiveModel`: SAM 3's vision backbone (ViT + dual neck)
and its interactive-instance predictor (the tracker's SAM heads), the two parts that box and
point prompts use, under the attribute names of ``Sam3Image`` (``backbone``,
``inst_interactive_predictor``), so the release checkpoint's keys map onto it as
``sam3.model_builder`` maps them. The text encoder and the detector's transformer, which
only text and exemplar prompts use, are not built.
"""
from __future__ import annotations

from functools import partial
from typing import Callable

import torch

__all__ = ['official_sam', 'official_sam_hq', 'official_sam2', 'official_sam3', 'build_tiny_test_sam',
           'build_tiny_test_sam_hq', 'build_tiny_test_sam2', 'build_tiny_test_sam3', 'Sam3InteractiveModel',
           'sam3_state_from_release']

_TINY = 32  # width of the test architectures' encoders and decoders


# ----------------------------------------------------------------------------- SAM, HQ-SAM
def official_sam(model_type: str) -> Callable[[], torch.nn.Module]:
    """Builder of an official ``segment_anything`` architecture."""
    def build():
        from segment_anything import sam_model_registry
        return sam_model_registry[model_type](checkpoint=None)
    return build


def official_sam_hq(model_type: str) -> Callable[[], torch.nn.Module]:
    """Builder of an official HQ-SAM architecture (``segment_anything_hq``)."""
    def build():
        from segment_anything_hq import sam_model_registry
        return sam_model_registry[model_type](checkpoint=None)
    return build


def _tiny_vit_parts(modules):
    """Image encoder and prompt encoder of the SAM / HQ-SAM test architectures (``modules``: the package's)."""
    encoder = modules.ImageEncoderViT(
        img_size=1024, patch_size=16, embed_dim=_TINY, depth=2, num_heads=2, mlp_ratio=2, out_chans=_TINY,
        qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True, window_size=14,
        global_attn_indexes=(1,))
    prompt = modules.PromptEncoder(embed_dim=_TINY, image_embedding_size=(64, 64), input_image_size=(1024, 1024),
                                   mask_in_chans=16)
    transformer = modules.TwoWayTransformer(depth=2, embedding_dim=_TINY, mlp_dim=64, num_heads=2)
    return encoder, prompt, transformer


def build_tiny_test_sam() -> torch.nn.Module:
    """A small SAM with SAM's exact interfaces and frames, for CPU tests.

    Same 1024 input frame, 16-pixel patches, 64 x 64 image embedding and 256 x 256
    low-resolution masks as the official models (so prompts, padding and mask
    post-processing are exercised exactly), but a 2-block, 32-wide encoder and a 32-wide
    decoder. Built from ``segment_anything``'s own modules; only meaningful with random weights.
    """
    from segment_anything import modeling
    encoder, prompt, transformer = _tiny_vit_parts(modeling)
    sam = modeling.Sam(image_encoder=encoder, prompt_encoder=prompt, mask_decoder=modeling.MaskDecoder(
        num_multimask_outputs=3, transformer=transformer, transformer_dim=_TINY, iou_head_depth=3,
        iou_head_hidden_dim=_TINY))
    return sam.eval()


def build_tiny_test_sam_hq() -> torch.nn.Module:
    """The test SAM with HQ-SAM's decoder (HQ token, first global block features), from ``segment_anything_hq``."""
    from segment_anything_hq import modeling
    encoder, prompt, transformer = _tiny_vit_parts(modeling)
    sam = modeling.Sam(
        image_encoder=encoder, prompt_encoder=prompt,
        mask_decoder=modeling.MaskDecoderHQ(num_multimask_outputs=3, transformer=transformer, transformer_dim=_TINY,
                                            iou_head_depth=3, iou_head_hidden_dim=_TINY, vit_dim=_TINY),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    return sam.eval()


# ----------------------------------------------------------------------------- SAM 2.1
def official_sam2(size: str) -> Callable[[], torch.nn.Module]:
    """Builder of an official SAM 2.1 architecture (``t``, ``s``, ``b+``, ``l``), as ``build_sam2`` makes it.

    ``build_sam2``'s default post-processing flags are kept: the single-mask output falls
    back to the best of the three multimask outputs when unstable, as the image predictor
    of SAM 2's README uses it.
    """
    def build():
        from sam2.build_sam import build_sam2
        return build_sam2(f'configs/sam2.1/sam2.1_hiera_{size}.yaml', ckpt_path=None, device='cpu', mode='eval')
    return build


def build_tiny_test_sam2() -> torch.nn.Module:
    """A small SAM 2.1 (``SAM2Base``) with the frames and SAM-head flags of the official configs.

    1024 input, Hiera trunk of 4 stages with 1, 1, 1, 2 blocks (8 to 64 wide; windowed, the
    last block global), FPN neck of width 32 with the two high-resolution maps, 64 x 64 embedding,
    256 x 256 low-res masks, object-score token, sigmoid IoU head, ``no_mem_embed`` added,
    dynamic multimask fallback. The memory modules (unused by the image predictor) are one
    small layer each.
    """
    from sam2.modeling.backbones.hieradet import Hiera
    from sam2.modeling.backbones.image_encoder import FpnNeck, ImageEncoder
    from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
    from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
    from sam2.modeling.position_encoding import PositionEmbeddingSine
    from sam2.modeling.sam.transformer import RoPEAttention
    from sam2.modeling.sam2_base import SAM2Base

    # A stage's first block pools; global attention sits in a later block, as in the official configs.
    trunk = Hiera(embed_dim=8, num_heads=1, stages=(1, 1, 1, 2), global_att_blocks=(4,),
                  window_pos_embed_bkg_spatial_size=(7, 7))
    neck = FpnNeck(position_encoding=PositionEmbeddingSine(num_pos_feats=_TINY, normalize=True, temperature=10000),
                   d_model=_TINY, backbone_channel_list=list(trunk.channel_list), fpn_top_down_levels=[2, 3],
                   fpn_interp_model='nearest')
    mem_dim = _TINY // 2

    def rope(**kw):
        return RoPEAttention(rope_theta=10000.0, feat_sizes=[64, 64], embedding_dim=_TINY, num_heads=1,
                             downsample_rate=1, dropout=0.1, **kw)
    memory_attention = MemoryAttention(
        d_model=_TINY, pos_enc_at_input=True, num_layers=1,
        layer=MemoryAttentionLayer(activation='relu', dim_feedforward=_TINY, dropout=0.1, pos_enc_at_attn=False,
                                   self_attention=rope(), d_model=_TINY, pos_enc_at_cross_attn_keys=True,
                                   pos_enc_at_cross_attn_queries=False,
                                   cross_attention=rope(rope_k_repeat=True, kv_in_dim=mem_dim)))
    memory_encoder = MemoryEncoder(
        out_dim=mem_dim, in_dim=_TINY,
        position_encoding=PositionEmbeddingSine(num_pos_feats=mem_dim, normalize=True, temperature=10000),
        mask_downsampler=MaskDownSampler(embed_dim=_TINY, kernel_size=3, stride=2, padding=1),
        fuser=Fuser(layer=CXBlock(dim=_TINY, kernel_size=7, padding=3, layer_scale_init_value=1e-6,
                                  use_dwconv=True), num_layers=1))
    model = SAM2Base(
        image_encoder=ImageEncoder(trunk=trunk, neck=neck, scalp=1), memory_attention=memory_attention,
        memory_encoder=memory_encoder, num_maskmem=7, image_size=1024, sigmoid_scale_for_mem_enc=20.0,
        sigmoid_bias_for_mem_enc=-10.0, use_mask_input_as_output_without_sam=True, directly_add_no_mem_embed=True,
        no_obj_embed_spatial=True, use_high_res_features_in_sam=True, multimask_output_in_sam=True,
        iou_prediction_use_sigmoid=True, use_obj_ptrs_in_encoder=True, add_tpos_enc_to_obj_ptrs=True,
        proj_tpos_enc_in_obj_ptrs=True, use_signed_tpos_enc_to_obj_ptrs=True, only_obj_ptrs_in_the_past_for_eval=True,
        pred_obj_scores=True, pred_obj_scores_mlp=True, fixed_no_obj_ptr=True, multimask_output_for_tracking=True,
        use_multimask_token_for_obj_ptr=True, multimask_min_pt_num=0, multimask_max_pt_num=1,
        use_mlp_for_obj_ptr_proj=True,
        # build_sam2(apply_postprocessing=True): the image predictor's single-mask fallback.
        sam_mask_decoder_extra_args=dict(dynamic_multimask_via_stability=True, dynamic_multimask_stability_delta=0.05,
                                         dynamic_multimask_stability_thresh=0.98))
    return model.eval()


# ----------------------------------------------------------------------------- SAM 3
class Sam3InteractiveModel(torch.nn.Module):
    """SAM 3's vision backbone and interactive-instance predictor: what box and point prompts run through.

    ``backbone`` is a ``SAM3VLBackbone`` without text encoder (its ``forward_image`` gives
    the SAM 2-style features under ``'sam2_backbone_out'``); ``inst_interactive_predictor``
    is a ``SAM3InteractiveImagePredictor`` around a ``Sam3TrackerPredictor`` without
    backbone, as ``build_sam3_image_model(enable_inst_interactivity=True)`` builds it. Works
    with ``Sam3Processor.set_image`` and ``Sam3Image.predict_inst`` (same attribute names).
    """

    def __init__(self, backbone: torch.nn.Module, inst_interactive_predictor: torch.nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.inst_interactive_predictor = inst_interactive_predictor

    @property
    def device(self) -> torch.device:
        """Device of the weights (``Sam3Processor`` and the predictors read it)."""
        return next(self.parameters()).device


def sam3_state_from_release(state: dict) -> dict:
    """Keys of the released ``sam3.pt`` mapped onto :class:`Sam3InteractiveModel` (other states pass unchanged).

    As ``sam3.model_builder._load_checkpoint`` maps them: ``detector.backbone.*`` to
    ``backbone.*`` and ``tracker.*`` to ``inst_interactive_predictor.model.*``; the text
    encoder's and the detector's other weights are not used by box / point prompts.
    """
    if not any(k.startswith(('detector.', 'tracker.')) for k in state):
        return state
    out = {}
    for key, value in state.items():
        if key.startswith('detector.backbone.vision_backbone.'):
            out[key[len('detector.'):]] = value
        elif key.startswith('tracker.'):
            out['inst_interactive_predictor.model.' + key[len('tracker.'):]] = value
    return out


def _sam3_maskmem(dim: int, out_dim: int, layers: int):
    """The tracker's memory encoder (``sam3.model_builder._create_tracker_maskmem_backbone`` at width ``dim``).

    Unused by box / point prompts, but part of the tracker's weights.
    """
    from sam3.model.memory import CXBlock, SimpleFuser, SimpleMaskDownSampler, SimpleMaskEncoder
    from sam3.model.position_encoding import PositionEmbeddingSine
    return SimpleMaskEncoder(
        out_dim=out_dim, in_dim=dim,
        position_encoding=PositionEmbeddingSine(num_pos_feats=out_dim, normalize=True, scale=None, temperature=10000),
        mask_downsampler=SimpleMaskDownSampler(embed_dim=dim, kernel_size=3, stride=2, padding=1,
                                               interpol_size=[1152, 1152]),
        fuser=SimpleFuser(layer=CXBlock(dim=dim, kernel_size=7, padding=3, layer_scale_init_value=1e-6,
                                        use_dwconv=True), num_layers=layers))


def _sam3_interactive(vit: torch.nn.Module, dim: int, transformer: torch.nn.Module,
                      maskmem: torch.nn.Module) -> 'Sam3InteractiveModel':
    """SAM 3's dual-neck backbone on ``vit`` and its tracker with ``build_tracker``'s flags, at width ``dim``.

    The position encodings are built without ``precompute_resolution``: sam3 0.1.4
    precomputes them on ``'cuda'`` (so its own builders fail on a machine without a GPU);
    the precomputation only fills a cache with the values ``forward`` computes anyway.
    """
    from sam3.model.necks import Sam3DualViTDetNeck
    from sam3.model.position_encoding import PositionEmbeddingSine
    from sam3.model.sam1_task_predictor import SAM3InteractiveImagePredictor
    from sam3.model.sam3_tracking_predictor import Sam3TrackerPredictor
    from sam3.model.vl_combiner import SAM3VLBackbone
    neck = Sam3DualViTDetNeck(
        position_encoding=PositionEmbeddingSine(num_pos_feats=dim, normalize=True, scale=None, temperature=10000),
        d_model=dim, scale_factors=[4.0, 2.0, 1.0, 0.5], trunk=vit, add_sam2_neck=True)
    backbone = SAM3VLBackbone(visual=neck, text=None, scalp=1)
    tracker = Sam3TrackerPredictor(
        image_size=1008, num_maskmem=7, backbone=None, backbone_stride=14, transformer=transformer,
        maskmem_backbone=maskmem, multimask_output_in_sam=True, forward_backbone_per_frame_for_eval=True,
        trim_past_non_cond_mem_for_eval=False, multimask_output_for_tracking=True, multimask_min_pt_num=0,
        multimask_max_pt_num=1, always_start_from_first_ann_frame=False, non_overlap_masks_for_mem_enc=False,
        non_overlap_masks_for_output=False, max_cond_frames_in_attn=4, offload_output_to_cpu_for_eval=False,
        sam_mask_decoder_extra_args={'dynamic_multimask_via_stability': True,
                                     'dynamic_multimask_stability_delta': 0.05,
                                     'dynamic_multimask_stability_thresh': 0.98},
        clear_non_cond_mem_around_input=True, fill_hole_area=0, use_memory_selection=False)
    return Sam3InteractiveModel(backbone, SAM3InteractiveImagePredictor(tracker)).eval()


def official_sam3() -> torch.nn.Module:
    """SAM 3's official vision backbone and interactive-instance predictor (``sam3.model_builder``'s parts)."""
    from sam3 import model_builder as mb
    return _sam3_interactive(mb._create_vit_backbone(), 256, mb._create_tracker_transformer(),
                             _sam3_maskmem(256, 64, 2))


def build_tiny_test_sam3() -> torch.nn.Module:
    """A small SAM 3 interactive model with SAM 3's frames, from ``sam3``'s own modules.

    1008 input, 14-pixel patches, 72 x 72 embedding, 288 x 288 low-res masks, dual neck
    (the SAM 2-style one feeds the SAM heads), 2-block 32-wide ViT (windowed + global, RoPE),
    the tracker's SAM heads with their flags (object score, sigmoid IoU, high-resolution
    features, dynamic multimask fallback); memory modules one small layer each.
    """
    from sam3.model.decoder import TransformerDecoderLayerv2, TransformerEncoderCrossAttention
    from sam3.model.model_misc import TransformerWrapper
    from sam3.model.vitdet import ViT
    from sam3.sam.transformer import RoPEAttention

    vit = ViT(img_size=1008, pretrain_img_size=336, patch_size=14, embed_dim=_TINY, depth=2, num_heads=2,
              mlp_ratio=2.0, norm_layer='LayerNorm', drop_path_rate=0.0, qkv_bias=True, use_abs_pos=True,
              tile_abs_pos=True, global_att_blocks=(1,), rel_pos_blocks=(), use_rope=True, use_interp_rope=True,
              window_size=24, pretrain_use_cls_token=True, retain_cls_token=False, ln_pre=True, ln_post=False,
              return_interm_layers=False, bias_patch_embed=False, compile_mode=None, use_act_checkpoint=False)
    mem_dim = _TINY // 2

    def rope(**kw):
        return RoPEAttention(embedding_dim=_TINY, num_heads=1, downsample_rate=1, dropout=0.1, rope_theta=10000.0,
                             feat_sizes=[72, 72], use_fa3=False, use_rope_real=False, **kw)
    layer = TransformerDecoderLayerv2(
        cross_attention_first=False, activation='relu', dim_feedforward=_TINY, dropout=0.1, pos_enc_at_attn=False,
        pre_norm=True, self_attention=rope(), d_model=_TINY, pos_enc_at_cross_attn_keys=True,
        pos_enc_at_cross_attn_queries=False, cross_attention=rope(kv_in_dim=mem_dim, rope_k_repeat=True))
    encoder = TransformerEncoderCrossAttention(remove_cross_attention_layers=[], batch_first=True, d_model=_TINY,
                                               frozen=False, pos_enc_at_input=True, layer=layer, num_layers=1,
                                               use_act_checkpoint=False)
    return _sam3_interactive(vit, _TINY, TransformerWrapper(encoder=encoder, decoder=None, d_model=_TINY),
                             _sam3_maskmem(_TINY, mem_dim, 1))
