"""Where in the user's Python code a DSL node was built.

In: the Python call stack at the moment a DSL object (``W[i, j]``, ``a * b``,
``tl.relu(x)``, ``Y[i] = ...``) is made.  Out: a ``Span`` into a ``Source``
whose name is the user's Python file (relative to the working directory when
it lies below it) and whose text is that file, so a ``TlangError`` about the
node renders as ``script.py:LINE:COL: error: ...`` with the Python line and a
caret under the expression.  Frames of the ``tlang`` package are skipped.

``text_source`` does the same for program text passed as a string
(``tl.Program(\"\"\"...\"\"\")``, ``p.query("R(x)")``): when the string appears
verbatim inside the call in the user's file, the returned Source parses the
string at its own offsets in the file, so errors in it point at the file's
lines; otherwise it is a plain Source with a descriptive name.
"""

from __future__ import annotations

import linecache
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from types import CodeType, FrameType

from .source import Source, Span

__all__ = ["user_span", "text_source", "EmbeddedSource"]


@dataclass(frozen=True, eq=False)
class EmbeddedSource(Source):
    """Program text embedded in a Python file.

    ``text`` is the file with everything outside the program text blanked
    (newlines kept), so offsets and line numbers are the file's; ``shown`` is
    the file itself, used to print the offending line.
    """

    shown: str = ""

    def line_text(self, line: int) -> str:
        lines = self.shown.split("\n")
        return lines[line - 1] if 1 <= line <= len(lines) else ""


_CACHE: dict[str, tuple[list[str], Source]] = {}


def _user_frame() -> FrameType | None:
    f = sys._getframe(1)
    while f is not None:
        mod = f.f_globals.get("__name__", "")
        if not (mod == "tlang" or mod.startswith("tlang.")):
            return f
        f = f.f_back
    return None


def _display_name(filename: str) -> str:
    if os.path.isabs(filename):
        try:
            rel = os.path.relpath(filename)
        except ValueError:  # another drive on Windows
            return filename
        if not rel.startswith(".."):
            return rel
    return filename


def _file_source(filename: str) -> Source | None:
    lines = linecache.getlines(filename)
    if not lines:
        return None
    hit = _CACHE.get(filename)
    if hit is not None and (hit[0] is lines or hit[0] == lines):
        return hit[1]
    src = Source(_display_name(filename), "".join(lines))
    _CACHE[filename] = (lines, src)
    return src


def _offset(src: Source, line: int, byte_col: int | None) -> int:
    starts = src._starts
    if not 1 <= line <= len(starts):
        return len(src.text)
    text = src.line_text(line)
    if byte_col is None:  # no column information: the first non-blank character
        col = len(text) - len(text.lstrip())
    else:
        col = len(text.encode("utf-8")[:byte_col].decode("utf-8", "ignore"))
    return starts[line - 1] + col


# id(code) -> (code, positions): hashing a code object hashes its whole content
_POSITIONS: OrderedDict[int, tuple[CodeType, list]] = OrderedDict()


def _code_positions(code: CodeType) -> list:
    """``code.co_positions()`` as a list, cached for the most recently used code objects."""
    hit = _POSITIONS.get(id(code))
    if hit is not None and hit[0] is code:
        _POSITIONS.move_to_end(id(code))
        return hit[1]
    pos = list(code.co_positions())
    _POSITIONS[id(code)] = (code, pos)
    if len(_POSITIONS) > 64:
        _POSITIONS.popitem(last=False)
    return pos


def _positions(frame: FrameType) -> tuple[int, int, int | None, int | None]:
    line = frame.f_lineno
    try:
        pos = _code_positions(frame.f_code)[frame.f_lasti // 2]
    except (AttributeError, IndexError):  # Python 3.10
        return line, line, None, None
    lo, hi, c0, c1 = pos
    if lo is None:
        return line, line, None, None
    return lo, hi if hi is not None else lo, c0, c1


def _frame_span(frame: FrameType) -> Span | None:
    src = _file_source(frame.f_code.co_filename)
    if src is None:
        return None
    lo, hi, c0, c1 = _positions(frame)
    start = _offset(src, lo, c0)
    if c1 is None:
        end = start + len(src.line_text(lo).strip()) or start + 1
    else:
        end = _offset(src, hi, c1)
    return Span(src, start, max(end, start + 1))


def user_span() -> Span | None:
    """The span of the expression being evaluated in the innermost frame outside tlang."""
    frame = _user_frame()
    return None if frame is None else _frame_span(frame)


def _blank(text: str) -> str:
    return "".join(ch if ch == "\n" else " " for ch in text)


def text_source(text: str, fallback: str, suffix: str = "") -> Source:
    """A Source for program text given to a DSL call (see the module docstring).

    ``suffix`` (e.g. the ``?`` of a query) is appended to the text; in an
    embedded source it overwrites the characters after the string (its
    closing quote).
    """
    plain = Source(fallback, text + suffix)
    frame = _user_frame()
    if frame is None or not text.strip():
        return plain
    span = _frame_span(frame)
    if span is None:
        return plain
    shown = span.source.text
    at = shown.find(text, span.start, span.end)
    while at > 0 and shown[at - 1] not in "\"'":  # the text must open a string literal
        at = shown.find(text, at + 1, span.end)
    after = at + len(text)
    if at < 0 or "\n" in shown[after:after + len(suffix)]:
        name = f"<{fallback.strip('<>')} at {span.source.name}:{frame.f_lineno}>"
        return Source(name, text + suffix)
    body = _blank(shown[:at]) + text + suffix + _blank(shown[after + len(suffix):])
    return EmbeddedSource(span.source.name, body, shown=shown)
