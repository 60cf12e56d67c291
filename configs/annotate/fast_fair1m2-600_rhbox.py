# FAST: FAIR1M-2.0 (train + val) cut into 600 x 600 patches, labelled with RH-Box prompts
# (the paper's rule: FAIR1M has rotated boxes only, so the horizontal hull of the rotated
# box). 37 classes in FAST order. Make the patches first:
#   python tools/split_images.py --source fair1m --preset fair1m \
#       --ann-dir data/FAIR1M-2.0/train/labelXml --out-dir data/FAIR1M-2.0-split/train
# The patches are in DOTA format with FAST class names, hence type='dota' here; the prompt
# is named explicitly because 'auto' would see the source 'dota' and choose H-Box.
_base_ = ['./_base_/default_annotate.py']

data_root = '{{$FAIR1M_SPLIT_ROOT:data/FAIR1M-2.0-split/train}}'
source = dict(type='dota', ann_dir=data_root + '/labelTxt', img_dir=data_root + '/images',
              class_list='fast', allow_empty=True)
engine = dict(prompt='rhbox')
writer = dict(copy_images='link')
work_dir = '{{$SAMRS_ROOT:data/samrs}}/fast'
