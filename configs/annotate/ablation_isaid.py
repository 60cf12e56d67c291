# Prompt ablation on iSAID (DOTA images with instance masks; the second set with ground
# truth): same rows as the HRSC2016 ablation. Point ISAID_ROOT at a folder holding the
# images with their *_instance_id_RGB.png / *_instance_color_RGB.png (iSAID keeps them in
# separate folders: then set source.id_dir / source.color_dir too).
_base_ = ['./ablation_hrsc2016_test.py']

data_root = '{{$ISAID_ROOT:data/iSAID/val}}'
source = dict(_delete_=True, type='isaid', img_dir=data_root, class_list='sota', allow_empty=True)
work_dir = 'work_dirs/annotate/ablation_isaid'
