# SIOR: every DIOR image (800 x 800, trainval + test, 23,463 images), H-Box prompts from
# the horizontal boxes. 20 classes in SIOR order. The paper pre-trains on the trainval
# part only: annotations_trainval.json lists it (tools/make_splits.py --include can too).
_base_ = ['./_base_/default_annotate.py']

data_root = '{{$DIOR_ROOT:data/DIOR}}'
source = dict(type='dior', ann_dir=data_root + '/Annotations/Horizontal Bounding Boxes',
              class_list='sior', allow_empty=True)
engine = dict(prompt='hbox')
writer = dict(
    copy_images='link',
    splits=dict(trainval=data_root + '/ImageSets/Main/trainval.txt',
                test=data_root + '/ImageSets/Main/test.txt'))
work_dir = '{{$SAMRS_ROOT:data/samrs}}/sior'
