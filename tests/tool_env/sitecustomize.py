"""Test runs only: mmengine's config text without yapf's pretty-printing.

``tests/conftest.py`` puts this folder first on ``PYTHONPATH`` of every tool a test starts
(Python imports ``sitecustomize`` at start-up) and applies :func:`plain_config_text` in the
test process itself. mmengine formats the whole config with yapf for the log, the config dump
and every checkpoint: about a second of CPU per pass here, several passes per run, and the
largest cost of a tiny training run after the imports. The text is valid Python either way.
"""


def _unformatted(text, style_config=None, **kwargs):
    return text, False


def plain_config_text():
    """Make yapf's ``FormatCode`` (what mmengine's ``Config.pretty_text`` calls) return its input."""
    try:
        from yapf.yapflib import yapf_api
    except ImportError:
        return
    yapf_api.FormatCode = _unformatted
    import sys
    config_module = sys.modules.get('mmengine.config.config')
    if config_module is not None:  # imported before us: patch its own binding too
        config_module.FormatCode = _unformatted


plain_config_text()
