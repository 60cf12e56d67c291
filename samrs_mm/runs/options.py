"""Option errors of the tools: one line naming the option and its valid values, exit status 2.

:class:`ToolArgumentParser` is ``argparse.ArgumentParser`` with that error format (argparse's
own prints a usage block first); :class:`OptionError` is what a tool raises for a value
argparse cannot check (a class list, a config key), caught in ``main`` and printed the same
way. :class:`ConfigOptionsAction` reads ``--cfg-options KEY=VALUE ...`` like mmengine's
``DictAction``, but keeps the spaces of a plain value (a path such as DIOR's
``Annotations/Horizontal Bounding Boxes``) and names an item without ``=``.
"""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn, Optional, Sequence

from .errors import EXIT_USAGE

__all__ = ['OptionError', 'ToolArgumentParser', 'ConfigOptionsAction', 'parse_config_value', 'print_error']


class OptionError(ValueError):
    """A bad option or config value: ``option`` names it, ``valid`` says what it may be."""

    def __init__(self, option: str, problem: str, valid: Optional[str] = None) -> None:
        self.option = option
        self.problem = problem
        self.valid = valid
        text = f'{option}: {problem}'
        if valid:
            text += f'; valid: {valid}'
        super().__init__(text)


class ToolArgumentParser(argparse.ArgumentParser):
    """``ArgumentParser`` whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``<prog>: error: <message> (see --help)`` and exit with status 2."""
        self.exit(EXIT_USAGE, f'{self.prog}: error: {message} (see --help)\n')

    def fail(self, exc: OptionError) -> NoReturn:
        """Report an :class:`OptionError` found after parsing, like an argparse error."""
        self.error(str(exc))


def parse_config_value(text: str):
    """The config value an override ``KEY=text`` stands for.

    Numbers, booleans, ``None`` and bracketed lists / tuples are parsed as mmengine's
    ``DictAction`` does; any other text is kept as written, spaces included (mmengine
    removes every space, which breaks paths).
    """
    stripped = text.strip()
    if ' ' in stripped and stripped[:1] not in '([{':
        if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in '\'"':
            stripped = stripped[1:-1]
        return stripped
    from mmengine.config import DictAction
    return DictAction._parse_iterable(stripped)


class ConfigOptionsAction(argparse.Action):
    """``--cfg-options KEY=VALUE [KEY=VALUE ...]`` into a dict (values: :func:`parse_config_value`)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Sequence[str], option_string: Optional[str] = None) -> None:
        options = dict(getattr(namespace, self.dest, None) or {})
        for item in values if isinstance(values, (list, tuple)) else [values]:
            key, sep, value = item.partition('=')
            if not sep or not key:
                parser.error(f'{option_string or self.dest}: {item!r} is not KEY=VALUE '
                             '(e.g. engine.backend=box)')
            try:
                options[key] = parse_config_value(value)
            except (AssertionError, ValueError) as exc:  # mmengine asserts on unbalanced brackets
                parser.error(f'{option_string or self.dest}: cannot read the value of {key!r} ({exc})')
        setattr(namespace, self.dest, options)


def print_error(message: str, file=None) -> None:
    """Print a tool's one-line ``error: ...`` message to stderr."""
    print(f'error: {message}', file=file or sys.stderr)
