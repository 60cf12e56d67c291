# Settings shared by the annotate configs (tools/samrs_annotate.py); docs/annotate.md lists
# every key. Paths and the SAM weights can come from environment variables, e.g.
#   SAM_CHECKPOINT=checkpoints/sam_vit_h_4b8939.pth python tools/samrs_annotate.py CONFIG
# or from --cfg-options engine.checkpoint=... engine.backend=box work_dir=...
engine = dict(
    backend='{{$SAM_BACKEND:segment_anything}}',  # 'box' fills the boxes instead (no weights needed)
    model_type='{{$SAM_MODEL_TYPE:vit_h}}',        # the paper used ViT-H
    checkpoint='{{$SAM_CHECKPOINT:none}}',         # 'none': must be given (the tool says how)
    device='auto',                                 # cuda when available (one GPU per rank)
    dtype='float32',
    prompt='auto',                                 # each subset config names its prompt
    multimask_output=False,
    prompt_batch_size='auto',
    image_batch_size=1,
)
writer = dict(
    overlap='small_on_top',  # smaller objects on top where masks overlap
    ignore_index=255,
    copy_images=None,        # 'link' / 'copy' / 'symlink' / 'png' make <work_dir>/images
    color=True,
    geotiff=True,
)
runner = dict(num_workers=4, fail_fast=False, progress=True)
