# SAMRS small-data row: Mask2Former R-50 | IMP + SEP init | 3 % of the train crops
# iSAID (foreground mIoU). The subset is chosen deterministically by subset_seed.
_base_ = '../mask2former_r50-imp-sep_8xb1-80k_isaid-896x896.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.03, subset_seed=0))
