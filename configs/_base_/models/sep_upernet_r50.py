# SEP model: mmseg's UperNet ResNet-50 with the decode and auxiliary heads turned into
# MultiHeadDecodeHeads (one shared decoder, one 1x1 classifier per SAMRS subset; the
# default heads are sota (18), sior (20), fast (37)).
_base_ = 'mmseg::_base_/models/upernet_r50.py'
model = dict(
    data_preprocessor=dict(size=(224, 224)),
    decode_head=dict(type='MultiHeadDecodeHead', decoder_type='UPerHead'),
    auxiliary_head=dict(type='MultiHeadDecodeHead', decoder_type='FCNHead'))
