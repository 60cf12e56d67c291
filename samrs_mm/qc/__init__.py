"""samrs_mm.qc: label quality control of SAM labels (docs/label_qc.md).

Reads a labelled folder (the annotate tool's output or the official release's pickles) one
image at a time, computes or reads each object's quality signals
(:mod:`samrs_mm.structures.mask_quality`), flags objects by documented thresholds
(:mod:`.thresholds`), writes ``objects.csv``, ``summary.json``, histogram and gallery pages
and ``index.html`` (:mod:`.report`), and on request the filtered dataset (:mod:`.apply`).
Entry point: :func:`run_label_qc` (``tools/label_qc.py``).
"""
from .apply import APPLY_MODES, FilteredWriter
from .reader import WorkDirError, open_label_folder
from .run import CSV_COLUMNS, run_label_qc
from .thresholds import DEFAULT_THRESHOLDS, REASONS, RULES, SIGNALS, ThresholdError, flag_reasons, load_thresholds

__all__ = ['APPLY_MODES', 'FilteredWriter', 'WorkDirError', 'open_label_folder', 'CSV_COLUMNS', 'run_label_qc',
           'DEFAULT_THRESHOLDS', 'REASONS', 'RULES', 'SIGNALS', 'ThresholdError', 'flag_reasons', 'load_thresholds']
