# SAMRS fine-tuning row: UperNet ViT-B + RVSA | SAMRS-MAE init | 100 % of the train crops
# Potsdam (F1 per class, OA, mF1). SAMRS-MAE = MAE ViT-B/16 pre-trained on the SAMRS
# training crops (configs/mae/, docs/finetune.md); its checkpoint (converted with
# tools/model_converters/convert_official.py vit_rvsa, or the raw mmpretrain file, converted
# on load): $SAMRS_MAE_VITB_SAMRS. Everything else as the MAE (MillionAID) row.
_base_ = './upernet_vit-b-rvsa-mae_8xb1-80k_potsdam-512x512.py'
model = dict(backbone=dict(init_cfg=dict(
    checkpoint='{{$SAMRS_MAE_VITB_SAMRS:pretrained/samrs-mae_vit-b.pth}}')))
