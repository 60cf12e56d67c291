# SAMRS small-data row: UperNet ViT-B + RVSA | SAMRS-MAE + SEP init | 3 % of the train crops
# iSAID (foreground mIoU). The subset is chosen deterministically by subset_seed.
_base_ = '../upernet_vit-b-rvsa-samrs-mae-sep_8xb1-80k_isaid-896x896.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.03, subset_seed=0))
