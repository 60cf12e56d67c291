# SAMRS small-data row: UperNet ViT-B + RVSA | SAMRS-MAE + SEP init | 1 % of the train crops
# Potsdam (F1 per class, OA, mF1). The subset is chosen deterministically by subset_seed.
_base_ = '../upernet_vit-b-rvsa-samrs-mae-sep_8xb1-80k_potsdam-512x512.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.01, subset_seed=0))
