"""A minimal XML tree that remembers the line of every element, for precise error messages.

``xml.etree`` forgets line numbers, so a bad ``<xmin>`` in a 10^5-file dataset could only be
reported by file. This parser (on the standard library's expat) keeps them.
"""
from __future__ import annotations

from typing import List, Optional
from xml.parsers import expat

from .errors import AnnotationError


class XmlNode:
    """One element: ``tag``, stripped ``text``, ``children``, ``attrib`` and its ``line``."""

    __slots__ = ('tag', 'attrib', 'children', 'line', '_text')

    def __init__(self, tag: str, attrib: dict, line: int):
        self.tag = tag
        self.attrib = attrib
        self.children: List['XmlNode'] = []
        self.line = line
        self._text: List[str] = []

    @property
    def text(self) -> str:
        """Text directly inside the element, stripped."""
        return ''.join(self._text).strip()

    def findall(self, path: str) -> List['XmlNode']:
        """Elements at a slash-separated path of tags below this one (no wildcards)."""
        nodes = [self]
        for tag in path.split('/'):
            nodes = [child for node in nodes for child in node.children if child.tag == tag]
        return nodes

    def find(self, path: str) -> Optional['XmlNode']:
        """First element at ``path``, or None."""
        found = self.findall(path)
        return found[0] if found else None

    def findtext(self, path: str, default: Optional[str] = None) -> Optional[str]:
        """Stripped text of the first element at ``path``, or ``default`` when absent."""
        node = self.find(path)
        return default if node is None else node.text

    def __repr__(self) -> str:
        return f'<XmlNode {self.tag} line {self.line}, {len(self.children)} children>'


def parse_xml(path: str) -> XmlNode:
    """Parse an XML file into :class:`XmlNode` s; bad XML raises AnnotationError with its line."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as exc:
        raise AnnotationError(f'cannot read annotation file: {exc.strerror or exc}', path,
                              reason='missing-annotation') from None
    if not data.strip():
        raise AnnotationError('annotation file is empty', path, reason='empty')
    parser = expat.ParserCreate()
    stack: List[XmlNode] = []
    roots: List[XmlNode] = []

    def start(tag, attrib):
        node = XmlNode(tag, attrib, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(tag):
        stack.pop()

    def chars(text):
        if stack:
            stack[-1]._text.append(text)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise AnnotationError(f'malformed XML: {expat.ErrorString(exc.code)}', path,
                              line=exc.lineno, reason='parse-error') from None
    return roots[0]
