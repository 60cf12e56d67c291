# Runtime shared by every samrs_mm config: mmseg's runtime plus the plugin import.
# samrs_mm switches the 'nccl' backend to gloo by itself when no GPU is available.
_base_ = 'mmseg::_base_/default_runtime.py'
custom_imports = dict(imports=['samrs_mm'], allow_failed_imports=False)
