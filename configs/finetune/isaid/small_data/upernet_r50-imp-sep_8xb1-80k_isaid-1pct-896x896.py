# SAMRS small-data row: UperNet R-50 | IMP + SEP init | 1 % of the train crops
# iSAID (foreground mIoU). The subset is chosen deterministically by subset_seed.
_base_ = '../upernet_r50-imp-sep_8xb1-80k_isaid-896x896.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.01, subset_seed=0))
