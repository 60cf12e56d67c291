# A whole scene (tools/annotate_scene.py): SAM labels of the boxes of one GeoTIFF of any size, in
# SOTA's 18 classes, H-Box prompts, 1024-pixel windows (SAM's input) on a grid with 200 pixels of
# overlap, 32 pixels of context around every box. docs/scenes.md lists every key.
#   SAM_CHECKPOINT=checkpoints/sam_vit_h_4b8939.pth python tools/annotate_scene.py \
#       configs/annotate/scene_sota_hbox.py --image city.tif --boxes boxes.gpkg --out-dir out/city
# Any other annotate config works as well (its engine, writer.overlap, runner.stretch / bands and
# source.class_list are used); this one only adds the scene section.
_base_ = ['./_base_/default_annotate.py']

source = dict(class_list='sota')           # the class list the box classes are mapped to
# A fixed prompt batch size: 'auto' measures on the device, and the last float bits of SAM's
# masks follow the batch size, so a resumed scene could mix two sizes.
engine = dict(prompt='hbox', prompt_batch_size=16)
scene = dict(
    class_field=None,       # field of the vector boxes with the class (default 'class'); or --class-field
    class_map=None,         # {'Car': 'small-vehicle', ...}: names of the boxes -> names of the class list
    skip_unknown=False,     # True: boxes of other classes are skipped and counted
    lenient=False,          # True: unusable geometries are skipped and counted
    box_type='auto',        # axis-aligned polygons -> H-Box, others -> their minimum rotated rectangle
    window_size=1024,
    gap=200,
    context=32,
    stretch_scope='window',  # 16-bit / float scenes: each window stretched like a patch (load_image)
    geoparquet=False,
    coco=True,
    quicklook=1024,
)
