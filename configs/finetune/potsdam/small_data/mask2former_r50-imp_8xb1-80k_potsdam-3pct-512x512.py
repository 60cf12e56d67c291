# SAMRS small-data row: Mask2Former R-50 | IMP init | 3 % of the train crops
# Potsdam (F1 per class, OA, mF1). The subset is chosen deterministically by subset_seed.
_base_ = '../mask2former_r50-imp_8xb1-80k_potsdam-512x512.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.03, subset_seed=0))
