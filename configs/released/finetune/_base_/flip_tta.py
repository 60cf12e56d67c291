# The authors' test (SAMRS Encoder_Decoder/test_gpu.py): softmax probabilities of the image and
# of its horizontal flip averaged, over sliding windows of the crop size at 2/3 stride.
# tools/test.py CONFIG CKPT --tta runs it with mmseg's SegTTAModel (the runtime's tta_model; it
# averages softmax too).
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='TestTimeAug',
         transforms=[[dict(type='RandomFlip', prob=0., direction='horizontal'),
                      dict(type='RandomFlip', prob=1., direction='horizontal')],
                     [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]])
]
