"""Source text, spans and the TlangError hierarchy.

In: program text with a name (a file path or ``<stdin>``).  Out: ``Span``
objects that locate AST/IR nodes, and errors that render as::

    file.tl:7:22: error: message
        the source line
                         ^^^
    note: ...
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Source:
    """A named program text; computes line/column positions."""

    name: str
    text: str
    _starts: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        for k, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(k + 1)
        object.__setattr__(self, "_starts", tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._starts, offset) - 1
        return line + 1, offset - self._starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of a Source."""

    source: Source = field(compare=False, repr=False)
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def col(self) -> int:
        return self.source.line_col(self.start)[1]

    def where(self) -> str:
        line, col = self.source.line_col(self.start)
        return f"{self.source.name}:{line}:{col}"

    def short(self) -> str:
        """``line:col`` (used for 'see also' references in the same file)."""
        line, col = self.source.line_col(self.start)
        return f"{line}:{col}"

    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def merge(self, other: Span | None) -> Span:
        if other is None:
            return self
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))


def render_caret(span: Span) -> str:
    """The source line of ``span`` and a caret line under it."""
    line, col = span.source.line_col(span.start)
    text = span.source.line_text(line)
    end_line, end_col = span.source.line_col(max(span.start, span.end - 1))
    width = (end_col - col + 1) if end_line == line and span.end > span.start else 1
    width = max(1, min(width, len(text) - col + 1 if len(text) >= col else 1))
    expanded = text.replace("\t", " ")
    return f"    {expanded}\n    {' ' * (col - 1)}{'^' * width}"


class TlangError(Exception):
    """Base of every error tlang reports to a user.

    ``span`` locates it (may be None for errors with no source, e.g. a
    missing file given on the command line); ``notes`` are extra lines.
    """

    kind = "error"

    def __init__(self, message: str, span: Span | None = None,
                 notes: tuple[str, ...] | list[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.notes = tuple(notes)

    def render(self) -> str:
        head = f"{self.kind}: {self.message}"
        if self.span is not None:
            out = f"{self.span.where()}: {head}\n{render_caret(self.span)}"
        else:
            out = head
        for note in self.notes:
            out += f"\nnote: {note}"
        return out

    def __str__(self) -> str:
        return self.render()


class TlangSyntaxError(TlangError):
    """The text is not a tensor-logic program."""


class TlangCheckError(TlangError):
    """A statically detectable mistake: names, arity, shapes, types."""


class TlangShapeError(TlangCheckError):
    """Contradicting or uninferable extents."""


class TlangRuntimeError(TlangError):
    """A failure while evaluating a well-formed program."""


class TlangFileError(TlangError):
    """A data file is missing, unreadable or malformed."""


class TlangResourceError(TlangError):
    """A predicted allocation or run exceeds a limit."""


class TlangErrors(TlangError):
    """Several errors found in one pass (check reports them all)."""

    def __init__(self, errors: list[TlangError]) -> None:
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, first.span, first.notes)

    def render(self) -> str:
        return "\n".join(e.render() for e in self.errors)


def read_program_text(path) -> str:
    """The UTF-8 text of a program file, or a ``TlangFileError`` that says why not."""
    from pathlib import Path
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TlangFileError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise TlangFileError(f"{path} is a directory, not a program file") from None
    except UnicodeDecodeError as e:
        raise TlangFileError(f"{path} is not UTF-8 text (byte {e.start})") from None
    except OSError as e:
        raise TlangFileError(f"cannot read {path}: {e.strerror}") from None
