# SOTA: DOTA-v2.0 (train + val) cut into 1024 x 1024 patches, labelled with H-Box prompts
# (the paper's rule: DOTA has horizontal hulls, so H-Box). 18 classes in SOTA order.
# Make the patches first (gap 200):
#   python tools/split_images.py --source dota --preset dota-v2 \
#       --ann-dir data/DOTA-v2.0/trainval/labelTxt --img-dir data/DOTA-v2.0/trainval/images \
#       --out-dir data/DOTA-v2.0-split/trainval
_base_ = ['./_base_/default_annotate.py']

data_root = '{{$DOTA_SPLIT_ROOT:data/DOTA-v2.0-split/trainval}}'
source = dict(type='dota', ann_dir=data_root + '/labelTxt', img_dir=data_root + '/images',
              class_list='sota', allow_empty=True)
engine = dict(prompt='hbox')
# A self-contained SAMRS subset folder (images/, semantic/, ...) for tools/make_splits.py
# and SOTADataset; hard links cost no space on the same disk.
writer = dict(copy_images='link')
work_dir = '{{$SAMRS_ROOT:data/samrs}}/sota'
