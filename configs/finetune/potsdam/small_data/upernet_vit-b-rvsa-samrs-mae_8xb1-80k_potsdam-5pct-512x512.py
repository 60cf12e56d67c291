# SAMRS small-data row: UperNet ViT-B + RVSA | SAMRS-MAE init | 5 % of the train crops
# Potsdam (F1 per class, OA, mF1). The subset is chosen deterministically by subset_seed.
_base_ = '../upernet_vit-b-rvsa-samrs-mae_8xb1-80k_potsdam-512x512.py'
train_dataloader = dict(dataset=dict(subset_ratio=0.05, subset_seed=0))
