"""Program text or path -> the statement list, with include/import expanded.

In: program text or a path.  Out: every statement in program order, each with
the folder its file names paths relative to (docs/language.md sections 12
and 15: ``include "f.tl"`` is relative to the including file, ``import
embed`` is ``tlang/stdlib/embed.tl``).  Directives are refused here: training
(``@minimize``, ``@maximize``) is out of the reference's scope and
``@sample`` is not implemented (16.9).
"""

from __future__ import annotations

import difflib
from pathlib import Path

from .. import ast as A
from ..io import resolve_path
from ..parse import parse, parse_file
from ..source import Source, TlangCheckError, TlangError, TlangFileError

STDLIB = Path(__file__).resolve().parent.parent / "stdlib"
KNOWN_DIRECTIVES = ("minimize", "maximize", "sample")

Located = tuple[A.Stmt, Path]


def load(source: str | Path) -> list[Located]:
    """The statements of a program given as text or as a path to a .tl file."""
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and source.endswith((".tl", ".dl"))):
        path = Path(source)
        if path.suffix.lower() == ".dl":
            raise TlangError("the reference interpreter reads tensor-logic (.tl) programs only")
        if not path.exists():
            raise TlangFileError(f"no such file: {path}")
        program, base = parse_file(path), path.resolve().parent
        seen: tuple[str, ...] = (str(path.resolve()),)
    else:
        program, base, seen = parse(Source("<input>", str(source))), Path.cwd(), ()
    out = _expand(program, base, seen)
    for st, _ in out:
        _check_directives(st)
    return out


def _expand(program: A.Program, base: Path, seen: tuple[str, ...]) -> list[Located]:
    out: list[Located] = []
    for st in program.statements:
        if isinstance(st, A.Include):
            try:
                path = resolve_path(st.path, base)
            except TlangFileError as e:
                raise TlangFileError(e.message, st.span) from None
        elif isinstance(st, A.Import):
            path = STDLIB / f"{st.module}.tl"
            if not path.exists():
                raise TlangCheckError(f"no module named '{st.module}' in the standard library", st.span)
        else:
            out.append((st, base))
            continue
        key = str(path.resolve())
        if key in seen:
            raise TlangCheckError(f"'{path.name}' includes itself", st.span)
        try:
            sub = parse_file(path)
        except TlangFileError as e:
            raise TlangFileError(e.message, st.span) from None
        out.extend(_expand(sub, path.resolve().parent, seen + (key,)))
    return out


def _check_directives(st: A.Stmt) -> None:
    if isinstance(st, A.Query):
        directives = st.directives
    elif isinstance(st, A.DirectiveStmt):
        directives = (st.directive,)
    else:
        return
    for d in directives:
        if d.name in ("minimize", "maximize"):
            raise TlangCheckError(f"@{d.name} trains the program, which the reference interpreter "
                                  "does not do", d.span, ["run it with tlang.api.run"])
        if d.name == "sample":
            raise TlangCheckError("@sample (selective projection) is not implemented", d.span)
        close = difflib.get_close_matches(d.name, KNOWN_DIRECTIVES, n=1)
        raise TlangCheckError(f"unknown directive '@{d.name}'", d.span,
                              [f"did you mean '@{close[0]}'?"] if close else [])
