# SAMRS small-data row: UperNet R-50 | RSP + SEP init | 1 % of the train crops
# iSAID (foreground mIoU). The subset is chosen deterministically by subset_seed.
_base_ = '../upernet_r50-rsp-sep_8xb1-80k_isaid-896x896.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.01, subset_seed=0))
