# Runtime of the samrs_mm instance-segmentation configs (mmdet): mmdet's runtime (default
# scope 'mmdet', epoch-based logging, a checkpoint per epoch) plus the plugin import.
_base_ = 'mmdet::_base_/default_runtime.py'
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
