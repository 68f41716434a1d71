"""Data files: reading and writing tensors and facts (no knowledge of the AST).

In: a path written in a program (resolved against the program's folder by
``resolve_path``) and, for writes, a numpy-convertible array or a list of
tuples.  Out: ``np.ndarray`` dense tensors, fact tuples (``int`` or ``str``
cells) and word lists for the paper's text files.  Every problem is a
``TlangFileError`` whose message starts with ``path:`` or ``path:line:``.

Formats are chosen by extension through the ``FORMATS`` table:

* ``.csv`` (comma), ``.tsv``/``.tab`` (tab): dense numeric tensors or facts.
* ``.facts``: Souffle-style tab-separated facts.
* ``.npy``/``.npz``: dense tensors (never pickled objects).
* ``.txt``: text, read as a word sequence by ``read_text``.

Defined results for awkward data (docs/reliability.md lists them too):

* In delimited files blank lines and lines starting with ``#`` are skipped;
  lines end at ``\\n``, ``\\r\\n`` or ``\\r``; text must be UTF-8 (a BOM is
  ignored).  Whitespace around an unquoted cell is ignored; a double-quoted
  cell is kept verbatim (``""`` stands for ``"``), and may not span lines.
* Dense: the first row may be a header if none of its cells is a number; it
  must have as many cells as the rows.  Numbers are decimal (``1``, ``-2.5``,
  ``.5``, ``1e-3``); ``nan``, ``inf``, ``+inf``, ``-inf``, ``infinity``
  (any case) read as IEEE nan/inf, with no warning.  An empty cell is an
  error.  One column gives a 1-D array (so an (n, 1) tensor written as CSV
  reads back with shape (n,)); otherwise rows are the first axis.  A file with
  no rows gives a float64 array of shape (0,) (or (0, k) after a k-cell
  header).  CSV/TSV always give float64; ``.npy``/``.npz`` keep their numeric
  dtype (bool, int, uint, float, complex) and refuse anything else.
* Facts: no header row (comment it out with ``#``).  An unquoted cell
  written exactly like a Python int (``0``, ``-12``; not ``007`` or ``+3``)
  becomes ``int``, any other cell a ``str``.  A double-quoted cell is always
  a ``str`` with the quotes removed, just as ``"3"`` in a program is a
  symbolic constant while ``3`` is a position.  An unquoted empty cell is an
  error.  Rows must share one arity; an empty file gives ``[]``.
  ``write_facts`` quotes where needed, so facts round-trip exactly.
* Writes are atomic: a temporary file in the target's folder, fsync, then
  ``os.replace``; on any failure the earlier file is untouched and the
  temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numpy as np

from .source import TlangFileError

__all__ = ["FORMATS", "Format", "resolve_path", "read_dense", "read_facts", "read_text",
           "write_dense", "write_facts"]


@dataclass(frozen=True)
class Format:
    """What a file extension holds and how its cells are separated."""

    kind: Literal["table", "npy", "npz", "text"]
    delimiter: str | None = None
    dense: bool = False    # may hold a dense numeric tensor
    facts: bool = False    # may hold facts (tuples of ints and strings)


FORMATS: dict[str, Format] = {
    ".csv": Format("table", ",", dense=True, facts=True),
    ".tsv": Format("table", "\t", dense=True, facts=True),
    ".tab": Format("table", "\t", dense=True, facts=True),
    ".facts": Format("table", "\t", facts=True),
    ".npy": Format("npy", dense=True),
    ".npz": Format("npz", dense=True),
    ".txt": Format("text"),
}

_USES = {"dense": "a dense tensor", "facts": "facts"}
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
                     re.IGNORECASE)
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_WORD = re.compile(r"\w+|[^\w\s]")
_NUMERIC_KINDS = "biufc"


def _format_for(path: Path, use: str) -> Format:
    ext = path.suffix.lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        known = ", ".join(FORMATS)
        raise TlangFileError(f"{path}: unknown file type {ext or '(no extension)'!r}; known types: {known}")
    if not getattr(fmt, use):
        fits = ", ".join(e for e, f in FORMATS.items() if getattr(f, use))
        raise TlangFileError(f"{path}: a {ext} file cannot hold {_USES[use]}; use one of {fits}")
    return fmt


# ---------------------------------------------------------------- paths

def resolve_path(path: str, base_dir: str | Path, allowed: Sequence[str | Path] = ()) -> Path:
    """The absolute, symlink-free path of ``path`` as written in a program.

    Relative paths are taken from ``base_dir`` (the program's folder).  The
    result must lie inside ``base_dir`` or one of the ``allowed`` folders
    (``--allow-path``); ``..`` and symlinks are followed before checking, so
    neither can escape.  The check is made when the path is resolved, so a
    link created later, between this check and the use, is not caught.
    """
    if not isinstance(path, str) or not path.strip():
        raise TlangFileError("empty file name")
    if "\x00" in path:
        raise TlangFileError(f"{path!r}: file name contains a NUL character")
    try:
        base = Path(base_dir).resolve()
        given = Path(path)
        full = (given if given.is_absolute() else base / given).resolve()
        roots = [base, *(Path(a).resolve() for a in allowed)]
    except (OSError, RuntimeError, ValueError) as e:
        raise TlangFileError(f"{path}: cannot resolve this path ({e})") from None
    if any(full.is_relative_to(root) for root in roots):
        return full
    via = "" if full == Path(os.path.abspath(base / path)) else f" (it leads to {full})"
    raise TlangFileError(f"{path!r}{via} is outside the program's folder {base}; "
                         "use --allow-path DIR to allow it")


# ---------------------------------------------------------------- reading

def _read_bytes(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise TlangFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TlangFileError(f"{path}: is a folder, not a file") from None
    except PermissionError:
        raise TlangFileError(f"{path}: permission denied") from None
    except OSError as e:
        raise TlangFileError(f"{path}: cannot read ({e.strerror or e})") from None


def _read_str(path: Path) -> str:
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        bad = data[e.start:e.start + 1].hex()
        raise TlangFileError(f"{path}:{line}: not UTF-8 text (byte 0x{bad})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _split(path: Path, lineno: int, line: str, sep: str) -> list[tuple[str, bool]]:
    """The cells of one line as (text, was quoted).  Unquoted cells are
    stripped; a double-quoted cell is kept verbatim, with ``""`` for ``"``."""
    if '"' not in line:                               # the common, fast case
        return [(c.strip(), False) for c in line.split(sep)]
    cells: list[tuple[str, bool]] = []
    i, n = 0, len(line)
    while True:
        j = i
        while j < n and line[j] != sep and line[j].isspace():
            j += 1
        if j < n and line[j] == '"':
            parts, k = [], j + 1
            while True:
                q = line.find('"', k)
                if q < 0:
                    raise TlangFileError(f"{path}:{lineno}: the quote in column {len(cells) + 1} "
                                         "is not closed")
                parts.append(line[k:q])
                if line.startswith('"', q + 1):
                    parts.append('"')
                    k = q + 2
                    continue
                break
            i = q + 1
            while i < n and line[i] != sep and line[i].isspace():
                i += 1
            if i < n and line[i] != sep:
                raise TlangFileError(f"{path}:{lineno}: unexpected text after the closing quote "
                                     f"in column {len(cells) + 1}")
            cells.append(("".join(parts), True))
        else:
            i = line.find(sep, j)
            i = n if i < 0 else i
            cells.append((line[j:i].strip(), False))
        if i >= n:
            return cells
        i += 1


def _rows(path: Path, fmt: Format) -> Iterator[tuple[int, list[tuple[str, bool]]]]:
    """(line number, cells) of each non-blank, non-comment line."""
    for lineno, line in enumerate(_read_str(path).split("\n"), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield lineno, _split(path, lineno, line, fmt.delimiter or ",")


def _check_arity(path: Path, lineno: int, n: int, expected: int, first: int) -> None:
    if n != expected:
        raise TlangFileError(f"{path}:{lineno}: row has {n} value{'s' * (n != 1)}, "
                             f"expected {expected} (as on line {first})")


def _load_numpy(path: Path) -> np.ndarray:
    try:
        loaded = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise TlangFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise TlangFileError(f"{path}: is a folder, not a file") from None
    except ValueError as e:
        if "pickle" in str(e).lower():
            raise TlangFileError(f"{path}: holds Python objects (dtype object); only numeric arrays "
                                 "are read, since loading objects would run pickle") from None
        raise TlangFileError(f"{path}: not a valid numpy file ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise TlangFileError(f"{path}: not a valid numpy file ({e})") from None
    if hasattr(loaded, "files"):                      # an NpzFile
        with loaded:
            names = list(loaded.files)
            if len(names) != 1:
                listed = f"{len(names)} arrays ({', '.join(names)})" if names else "no arrays"
                raise TlangFileError(f"{path}: holds {listed}; a tensor file must hold exactly one "
                                     "(save each array to its own .npy file)")
            try:
                loaded = loaded[names[0]]
            except ValueError:
                raise TlangFileError(f"{path}: array {names[0]!r} holds Python objects (dtype object); "
                                     "only numeric arrays are read") from None
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise TlangFileError(f"{path}: array {names[0]!r} cannot be read ({e})") from None
    if loaded.dtype.kind not in _NUMERIC_KINDS:
        raise TlangFileError(f"{path}: holds values of dtype {loaded.dtype}, not numbers")
    return loaded


def read_dense(path: Path) -> np.ndarray:
    """A dense numeric tensor from a .csv/.tsv/.tab/.npy/.npz file.

    CSV/TSV give float64 (1-D for a single column, else rows x columns); see
    the module docstring for headers, comments, nan/inf and empty files.
    """
    path = Path(path)
    fmt = _format_for(path, "dense")
    if fmt.kind in ("npy", "npz"):
        return _load_numpy(path)
    rows: list[list[float]] = []
    width = first = 0
    for lineno, split in _rows(path, fmt):
        cells = [text for text, _ in split]
        if not first:
            width, first = len(cells), lineno
            if not any(_NUMBER.fullmatch(c) for c in cells):
                continue                              # a header row
        _check_arity(path, lineno, len(cells), width, first)
        row = []
        for col, cell in enumerate(cells, 1):
            if not _NUMBER.fullmatch(cell):
                what = "empty cell" if not cell else f"cell {cell!r}"
                raise TlangFileError(f"{path}:{lineno}: {what} in column {col} is not a number")
            row.append(float(cell))
        rows.append(row)
    if not rows:
        return np.zeros((0, width) if width > 1 else (0,), dtype=np.float64)
    array = np.array(rows, dtype=np.float64)
    return array[:, 0] if width == 1 else array


def read_facts(path: Path) -> list[tuple[int | str, ...]]:
    """Facts, one tuple per row, from a .csv/.tsv/.tab/.facts file.

    Unquoted cells written like Python ints become ``int``, other cells
    ``str`` (a double-quoted cell is always a ``str``, kept verbatim); all
    rows must have the same number of values.  There is no header row.
    """
    path = Path(path)
    fmt = _format_for(path, "facts")
    facts: list[tuple[int | str, ...]] = []
    width = first = 0
    for lineno, cells in _rows(path, fmt):
        if not first:
            width, first = len(cells), lineno
        _check_arity(path, lineno, len(cells), width, first)
        fact: list[int | str] = []
        for col, (cell, quoted) in enumerate(cells, 1):
            if not cell and not quoted:
                raise TlangFileError(f"{path}:{lineno}: empty value in column {col} "
                                     '(write "" for an empty string)')
            fact.append(int(cell) if not quoted and _INT.fullmatch(cell) else cell)
        facts.append(tuple(fact))
    return facts


def read_text(path: Path) -> list[str]:
    """The word tokens of a text file, in order (``\\w+`` runs and single
    punctuation marks), for the Boolean position-by-word matrix M[p, w]."""
    return _WORD.findall(_read_str(Path(path)))


# ---------------------------------------------------------------- writing

def _new_file_mode(path: Path) -> int:
    """The mode the file would get if opened normally (or keeps, if it exists)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` via a temporary file in its folder, fsync and os.replace."""
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except FileNotFoundError:
        raise TlangFileError(f"{path}: cannot write: folder {folder} does not exist") from None
    except OSError as e:
        raise TlangFileError(f"{path}: cannot write ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), _new_file_mode(path))
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise TlangFileError(f"{path}: cannot write ({e.strerror or e}); "
                                 "any earlier file is unchanged") from None
        raise
    with contextlib.suppress(OSError):                # make the rename durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _number_text(x: object) -> str:
    return repr(float(x)) if isinstance(x, (float, np.floating)) else str(int(x))


def write_dense(path: Path, array: object) -> None:
    """Write a numeric tensor to .csv/.tsv/.tab (rank 0-2) or .npy/.npz, atomically.

    CSV/TSV: a 1-D tensor is one value per line, a 2-D one a row per line;
    floats are written with ``repr`` so they read back exactly.  An .npz
    holds one array named ``arr_0``.
    """
    path = Path(path)
    fmt = _format_for(path, "dense")
    a = np.asarray(array)
    if a.dtype.kind not in _NUMERIC_KINDS:
        raise TlangFileError(f"{path}: cannot write values of dtype {a.dtype}; only numeric tensors "
                             "are written")
    if fmt.kind == "npy":
        _atomic_write(path, lambda f: np.save(f, a, allow_pickle=False))
        return
    if fmt.kind == "npz":
        _atomic_write(path, lambda f: np.savez(f, arr_0=a))
        return
    if a.ndim > 2:
        raise TlangFileError(f"{path}: cannot write a rank-{a.ndim} tensor (shape {a.shape}) as "
                             f"{path.suffix}; only rank 0-2 fit; use .npy or .npz")
    if a.dtype.kind == "c":
        raise TlangFileError(f"{path}: cannot write complex numbers as {path.suffix}; use .npy or .npz")
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    rows = a.reshape(-1, 1) if a.ndim < 2 else a
    sep = fmt.delimiter or ","
    text = "".join(sep.join(_number_text(x) for x in row.tolist()) + "\n" for row in rows)
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def _fact_text(path: Path, index: int, value: object, sep: str, first: bool) -> str:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer, str)):
        raise TlangFileError(f"{path}: fact {index} holds {value!r} ({type(value).__name__}); "
                             "facts hold integers and strings")
    if not isinstance(value, str):
        return str(int(value))
    if "\n" in value or "\r" in value:
        raise TlangFileError(f"{path}: fact {index} holds {value!r}, which contains a line break")
    needs_quotes = (not value or value != value.strip() or sep in value or '"' in value
                    or _INT.fullmatch(value) or (first and value.startswith("#")))
    return '"' + value.replace('"', '""') + '"' if needs_quotes else value


def write_facts(path: Path, tuples: Iterable[Sequence[int | str]]) -> None:
    """Write facts, one row per tuple, to .csv/.tsv/.tab/.facts, atomically.

    Cells are ints or strings; a string is double-quoted when it would
    otherwise read back differently (empty, looks like an int, holds the
    separator or a quote, has surrounding spaces, or starts a row with ``#``),
    so ``read_facts`` returns exactly what was written.  Strings with line
    breaks are refused.
    """
    path = Path(path)
    fmt = _format_for(path, "facts")
    sep = fmt.delimiter or ","
    lines = []
    width = None
    for index, fact in enumerate(tuples, 1):
        fact = tuple(fact)
        if width is None:
            width = len(fact)
            if width == 0:
                raise TlangFileError(f"{path}: cannot write facts with no values")
        if len(fact) != width:
            raise TlangFileError(f"{path}: fact {index} has {len(fact)} values, expected {width} "
                                 "(as in fact 1)")
        lines.append(sep.join(_fact_text(path, index, v, sep, k == 0) for k, v in enumerate(fact)) + "\n")
    text = "".join(lines)
    _atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 text atomically (used by ``tlang fmt --write`` and the REPL's ``:save``)."""
    data = text.encode("utf-8")
    _atomic_write(Path(path), lambda f: f.write(data))
