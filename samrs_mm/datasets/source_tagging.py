"""Tag every sample with the source (SAMRS subset) it comes from.

In multi-source pre-training the model must know which classification head a sample
belongs to. ``TagSource`` writes ``source`` (the subset name) and ``source_index`` into the
sample; ``PackSegInputs`` must list both in its ``meta_keys`` so they reach the model as
``data_sample.metainfo['source']`` (the SEP configs do this with ``SOURCE_META_KEYS``).
"""
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

# mmseg's default PackSegInputs meta keys plus the two source tags.
SOURCE_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                    'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
                    'source', 'source_index')


@TRANSFORMS.register_module()
class TagSource(BaseTransform):
    """Add ``source`` and ``source_index`` to a sample (put it in each dataset's pipeline).

    Args:
        source (str): name of the source, e.g. ``'sota'``; must match a head name of the
            model's ``MultiHeadDecodeHead``.
        source_index (int): position of the source in the model's ``sources`` list.
    """

    def __init__(self, source: str, source_index: int = -1) -> None:
        if not isinstance(source, str) or not source:
            raise ValueError(f'TagSource needs a non-empty source name, got {source!r}')
        self.source = source
        self.source_index = int(source_index)

    def transform(self, results: dict) -> dict:
        """Write the tags into the results dict."""
        results['source'] = self.source
        results['source_index'] = self.source_index
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(source={self.source!r}, source_index={self.source_index})'
