"""Babel extractors for `make messages` (named in babel.cfg): texts the pages translate that are not `_()` calls."""

from __future__ import annotations

import ast
import io
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

from babel.messages.extract import extract_python


def extract_code(fileobj: IO[bytes], keywords: Mapping[str, Any], comment_tags: Collection[str],
                 options: Any) -> Iterator[tuple[Any, ...]]:
    """Babel's Python extractor, plus each error's `title` class attribute: pages show it through `_()`."""
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            for line, title in _titles(node):
                yield line, "_", title, [f"The title of the error {node.name}"]


def _titles(cls: ast.ClassDef) -> Iterator[tuple[int, str]]:
    for statement in cls.body:
        target = statement.targets[0] if isinstance(statement, ast.Assign) else getattr(statement, "target", None)
        text = getattr(statement, "value", None)
        if isinstance(target, ast.Name) and target.id == "title" and isinstance(text, ast.Constant) \
                and isinstance(text.value, str):
            yield statement.lineno, text.value


def extract_labels(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
                   options: dict[str, Any]) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    """A Babel extractor for web/labels.py: each English name with its kind as the context (babel.cfg)."""
    tree = ast.parse(fileobj.read())
    for statement in tree.body:
        if not (isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name)
                and isinstance(statement.value, ast.Dict)):
            continue
        if statement.target.id == "FIELDS":
            yield from _names("field", statement.value)
        elif statement.target.id == "LABELS":
            for kind, names in zip(statement.value.keys, statement.value.values, strict=True):
                if isinstance(kind, ast.Constant) and isinstance(kind.value, str) and isinstance(names, ast.Dict):
                    yield from _names(kind.value, names)


def _names(context: str, names: ast.Dict) -> Iterator[tuple[int, str, tuple[str, str], list[str]]]:
    for name in names.values:
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            yield name.lineno, "pgettext", (context, name.value), []
