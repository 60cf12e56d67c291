# Runtime of the samrs_mm rotated-detection configs (mmrotate 1.0.0rc1): mmrotate's runtime
# (default scope 'mmrotate') plus the plugin and its rotated datasets. Importing
# samrs_mm.datasets.samrs_rotated imports mmrotate through samrs_mm.compat.import_mmrotate()
# (mmrotate rc1 does not import beside mmdet 3.3 on Python >= 3.10 without it) and
# registers mmrotate's models, transforms and metrics.
_base_ = 'mmrotate::_base_/default_runtime.py'
custom_imports = dict(imports=['samrs_mm', 'samrs_mm.datasets.samrs_rotated'], allow_failed_imports=False)
