"""The authors' released checkpoints (SAMRS and MTP) as this package's models.

What the authors published (ViTAE-Transformer/SAMRS ``Pretraining and Finetuning/Readme.md``,
ViTAE-Transformer/MTP ``Readme.md``; links in docs/model_zoo.md), saved by their training
scripts as ``{epoch, iteration, state_dict, optimizer, scheduler, loss_*}``:

* SAMRS SEP models (``encoder.* / decoder.* / semseghead_{1,2,3}.*``) and their
  ``*_encoder.pth``, fine-tuned Potsdam / iSAID models (``semseghead.*``), SAMRS-MAE ViT-B;
* MTP models (``encoder.*``, ``semsegdecoder.*``, ``inssegdecoder.*``, ``rotdetdecoder.*`` and
  per-set layers) and their ``*_encoder.pth``.

:func:`convert_released` recognises a file by its keys (:mod:`.formats`), renames every key
(:mod:`.mapping`) and checks the result against the model of the format's config in
``configs/released/`` (:mod:`.convert`); ``tools/model_converters/convert_released.py`` is
the command line.
"""
from .convert import (
                      ConvertedRelease,
                      ParametersOnMeta,
                      build_config,
                      check_against_model,
                      convert_released,
                      load_release,
                      model_shapes,
                      release_weights,
                      save_converted,
)
from .formats import ENCODERS, FORMATS, ReleasedFormat, ReleaseError, encoder_family, recognise
from .mapping import MappedRelease, map_released_state_dict

__all__ = [
    'ConvertedRelease', 'ParametersOnMeta', 'build_config', 'check_against_model', 'convert_released',
    'load_release', 'model_shapes', 'release_weights', 'save_converted', 'ENCODERS', 'FORMATS',
    'ReleasedFormat', 'ReleaseError', 'encoder_family', 'recognise', 'MappedRelease',
    'map_released_state_dict'
]
