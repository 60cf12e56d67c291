# The paper's prompt ablation (Table 1): HRSC2016 test images that have ground-truth ship
# masks, SAM ViT-H, every basic prompt and the combinations, plus the 'box' baseline.
#   python tools/prompt_ablation.py configs/annotate/ablation_hrsc2016_test.py \
#       --cfg-options engine.checkpoint=checkpoints/sam_vit_h_4b8939.pth
# The same config labels the images with tools/samrs_annotate.py (H-Box by default).
_base_ = ['./_base_/default_annotate.py']

data_root = '{{$HRSC_ROOT:data/HRSC2016/FullDataSet}}'
source = dict(type='hrsc', ann_dir=data_root + '/Annotations', img_dir=data_root + '/AllImages',
              split_file=data_root + '/ImageSets/test.txt', class_list='sota', with_masks=True,
              allow_empty=True)
engine = dict(prompt='hbox')
ablation = dict(
    # Prompt specs fed to SAM (docs/annotate.md, "Prompts"); the first six are the basic ones.
    prompts=['cp', 'hbox', 'rhbox', 'hbox_mask', 'rbox_mask', 'rhbox_mask',
             'hbox+cp', 'rhbox+cp', 'hbox+hbox_mask', 'rhbox+rhbox_mask', 'rhbox+rbox_mask',
             'cp+rbox_mask'],
    # Regions the 'box' backend fills, scored the same way: how much SAM adds to a box.
    box_regions=['hbox', 'rhbox', 'rbox'],
)
work_dir = 'work_dirs/annotate/ablation_hrsc2016_test'
