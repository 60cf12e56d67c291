"""Tag every sample with the SAMRS subset it comes from.

In multi-subset pre-training the model must know which classification head a sample
belongs to. ``TagSubset`` writes ``subset`` (the subset name) and ``subset_index`` into the
sample; ``PackSegInputs`` must list both in its ``meta_keys`` so they reach the model as
``data_sample.metainfo['subset']`` (the SEP configs do this with ``SUBSET_META_KEYS``).
"""
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

# mmseg's default PackSegInputs meta keys plus the two subset tags.
SUBSET_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                    'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
                    'subset', 'subset_index')


@TRANSFORMS.register_module()
class TagSubset(BaseTransform):
    """Add ``subset`` and ``subset_index`` to a sample (put it in each dataset's pipeline).

    Args:
        subset (str): name of the subset, e.g. ``'sota'``; must match a head name of the
            model's ``MultiHeadDecodeHead``.
        subset_index (int): position of the subset in the model's ``subsets`` list.
    """

    def __init__(self, subset: str, subset_index: int = -1) -> None:
        if not isinstance(subset, str) or not subset:
            raise ValueError(f'TagSubset needs a non-empty subset name, got {subset!r}')
        self.subset = subset
        self.subset_index = int(subset_index)

    def transform(self, results: dict) -> dict:
        """Write the tags into the results dict."""
        results['subset'] = self.subset
        results['subset_index'] = self.subset_index
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(subset={self.subset!r}, subset_index={self.subset_index})'
