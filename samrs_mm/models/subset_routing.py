"""Per-subset final layers on shared bodies: the routing that SEP's and MTP's heads share.

SAMRS pre-training keeps one body (decoder, RoI head, mask head) for all subsets and gives
every subset its own last layer (its classes differ). :class:`SubsetRoutedClassifier`
takes the place of a stock head's last layer (``conv_seg`` of an mmseg decode head,
``cls_embed`` of Mask2Former, ``fc_cls`` / ``fc_reg`` of an mmdet box head, ``conv_logits``
of a mask head), sends each sample (or the whole input) through its subset's layer and
pads the outputs of subsets with fewer classes to one shape, so the stock head's forward,
losses and post-processing run unchanged.

* :func:`parse_subsets`: ``[dict(name=..., num_classes=...)]`` -> ``{name: count}``.
* :func:`route_by_subset`: each sample's subset from its ``metainfo['subset']``.
* :func:`add_zero_term_for_absent_heads`: keeps DDP from seeing unused parameters when a
  batch holds no sample of some subset (or a branch is switched off).
"""
from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from torch import Tensor

from samrs_mm.structures.classes import SAMRS_CLASS_LISTS

# The default heads: the SAMRS subsets in the paper's order.
SAMRS_SUBSETS = tuple(dict(name=name, num_classes=len(classes))
                      for name, classes in SAMRS_CLASS_LISTS.items())

# Fill value for the logits of classes a sample's subset does not have.
PAD_LOGIT = -1.0e4


def parse_subsets(subsets: Sequence[dict]) -> Dict[str, int]:
    """``[dict(name='sota', num_classes=18), ...]`` -> ``{'sota': 18, ...}``, checked."""
    if not subsets:
        raise ValueError('at least one subset is needed')
    counts: Dict[str, int] = {}
    for entry in subsets:
        try:
            name, count = str(entry['name']), int(entry['num_classes'])
        except (KeyError, TypeError, ValueError):
            raise ValueError('each subset must be dict(name=str, num_classes=int), '
                             f'got {entry!r}') from None
        if name in counts:
            raise ValueError(f'subset {name!r} is listed twice')
        if count < 1:
            raise ValueError(f'subset {name!r} needs num_classes >= 1, got {count}')
        counts[name] = count
    return counts


class SubsetRoutedClassifier(nn.Module):
    """Applies each sample's subset layer and pads the outputs to one shape.

    By default it owns no parameters: the layers live on the owning head (registered there,
    e.g. as ``subset_heads``), so checkpoint keys do not depend on where the router is
    plugged in. With ``own_heads=True`` it holds them itself as ``subset_heads`` (keys
    ``<replaced layer>.subset_heads.<subset>.*``), so an init config that names the replaced
    layer (mmdet's ``override=dict(name='fc_cls')``) initialises every subset's layer.

    ``route`` must be set before every forward: one subset name per sample (the first
    dimension of the input), or a single name for the whole input.

    Args:
        heads: the per-subset layers, keyed by subset name.
        class_counts: output channels of each subset's layer, trailing ones excluded
            (classes, or classes x box size for class-specific box regression).
        channel_dim: dimension of the class channels in the output (1 for dense
            ``(B, C, H, W)`` logits and for ``(N, C)`` RoI scores, -1 for per-query
            ``(B, Q, C)`` scores).
        trailing: extra channels every layer emits after its classes (1 for "no object"
            or "background"); they go to the end of the output.
        pad_value: fill of the channels a subset does not have (``PAD_LOGIT`` for scores,
            0 for box deltas).
        own_heads: register ``heads`` on this module (see above).
    """

    def __init__(self, heads: nn.ModuleDict, class_counts: Dict[str, int], channel_dim: int = 1,
                 trailing: int = 0, pad_value: float = PAD_LOGIT, own_heads: bool = False) -> None:
        super().__init__()
        if own_heads:
            self.subset_heads = heads
        else:
            # A plain attribute, not a submodule: the parameters stay under the owning head.
            object.__setattr__(self, '_heads', heads)
        self.class_counts = dict(class_counts)
        self.max_classes = max(self.class_counts.values())
        self.channel_dim = channel_dim
        self.trailing = trailing
        self.pad_value = pad_value
        self.route: Optional[Union[str, List[str]]] = None

    @property
    def heads(self) -> nn.ModuleDict:
        """The per-subset layers, wherever they are registered."""
        return self.subset_heads if 'subset_heads' in self._modules else self._heads

    def forward(self, feat: Tensor) -> Tensor:
        """Return outputs with ``max_classes + trailing`` channels, padded with ``pad_value``."""
        route = self.route
        if isinstance(route, str):
            return self._padded(self.heads[route](feat), route)
        if route is None or len(route) != feat.shape[0]:
            raise RuntimeError('subset-routed classifier needs one subset per sample (got '
                               f'{None if route is None else len(route)} for a batch of '
                               f'{feat.shape[0]})')
        groups: Dict[str, List[int]] = {}
        for index, subset in enumerate(route):
            groups.setdefault(subset, []).append(index)
        if len(groups) == 1:
            (subset, _), = groups.items()
            return self._padded(self.heads[subset](feat), subset)
        parts, order = [], []
        for subset, indices in groups.items():
            index = torch.as_tensor(indices, device=feat.device)
            parts.append(self._padded(self.heads[subset](feat.index_select(0, index)), subset))
            order += indices
        # Concatenate the groups, then put every sample back at its place in the batch.
        inverse = torch.empty(len(order), dtype=torch.long, device=feat.device)
        inverse[torch.as_tensor(order, device=feat.device)] = torch.arange(len(order), device=feat.device)
        return torch.cat(parts, dim=0).index_select(0, inverse)

    def _padded(self, logits: Tensor, subset: str) -> Tensor:
        missing = self.max_classes - self.class_counts[subset]
        if missing == 0:
            return logits
        dim = self.channel_dim % logits.dim()
        shape = list(logits.shape)
        shape[dim] = missing
        pad = logits.new_full(shape, self.pad_value)
        count = self.class_counts[subset]
        classes = logits.narrow(dim, 0, count)
        extra = logits.narrow(dim, count, self.trailing)
        return torch.cat([classes, pad, extra], dim=dim)

    def select(self, outputs: Tensor, subset: str) -> Tensor:
        """The channels of ``subset`` (its classes, then the trailing ones) from padded outputs."""
        dim = self.channel_dim % outputs.dim()
        count = self.class_counts[subset]
        if count == self.max_classes:
            return outputs
        classes = outputs.narrow(dim, 0, count)
        if not self.trailing:
            return classes
        return torch.cat([classes, outputs.narrow(dim, self.max_classes, self.trailing)], dim=dim)


def route_by_subset(metas: Sequence[dict], subsets: Sequence[str],
                    fallback: Optional[str] = None) -> List[str]:
    """Subset name of every sample (its ``metainfo['subset']``, else ``fallback``)."""
    route = []
    for meta in metas:
        subset = meta.get('subset', None) or fallback
        if subset is None:
            raise KeyError(
                f'sample {meta.get("img_path", "?")} has no "subset" in its metainfo: add '
                "dict(type='TagSubset', subset=...) to its pipeline and 'subset' to "
                "PackSegInputs' meta_keys, or name a head with model.test_cfg.subset")
        if subset not in subsets:
            raise KeyError(f'sample {meta.get("img_path", "?")} comes from subset {subset!r}, '
                           f'but the heads are {list(subsets)}')
        route.append(subset)
    return route


def zero_term(modules: Iterable[nn.Module]) -> Optional[Tensor]:
    """``0 * sum(parameters)`` of ``modules`` (None when they have no parameters)."""
    params = [p for module in modules for p in module.parameters() if p.requires_grad]
    if not params:
        return None
    return sum(p.sum() for p in params) * 0.0


def add_zero_term(losses: Dict[str, Tensor], modules: Iterable[nn.Module]) -> None:
    """Add :func:`zero_term` of ``modules`` to the first loss of ``losses``.

    Every parameter then takes part in the graph (with a zero gradient): DDP would
    otherwise stop with "unused parameters" errors on iterations that skip them.
    """
    zero = zero_term(modules)
    if zero is None:
        return
    first_loss_key = next(k for k in losses if 'loss' in k)
    first = losses[first_loss_key]
    if isinstance(first, (list, tuple)):
        losses[first_loss_key] = [first[0] + zero] + list(first[1:])
    else:
        losses[first_loss_key] = first + zero


def add_zero_term_for_absent_heads(losses: Dict[str, Tensor], heads: nn.ModuleDict,
                                   present: Sequence[str]) -> None:
    """Add ``0 * sum(parameters)`` of the heads absent from the batch to the first loss.

    Every parameter then takes part in the graph: DDP would otherwise stop with "unused
    parameters" errors on iterations where a rank has no sample of some subset.
    """
    add_zero_term(losses, [heads[name] for name in heads if name not in present])
