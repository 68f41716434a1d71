"""The Python entry points: source or path -> parsed, built and evaluated program.

In: program text or a path, a backend name, input arrays.  Out: ``Results``.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path

from . import ast as A
from .build import build
from .engine import Options, Results, evaluate
from .parse import parse, parse_file
from .source import Source, TlangError, TlangFileError

SYNTAXES = ("tl", "datalog")
# the syntax of programs loaded without one (``tlang run --syntax``); None: by extension
default_syntax: ContextVar[str | None] = ContextVar("default_syntax", default=None)


def load_program(path_or_source: str | Path, name: str | None = None,
                 syntax: str | None = None) -> tuple[A.Program, Path]:
    """Parse a file path or program text; return the AST and its folder.

    ``syntax`` is ``"tl"`` or ``"datalog"`` (Souffle-style, ``tlang.datalog``);
    by default a ``.dl`` file is Datalog and anything else tensor logic."""
    syntax = syntax or default_syntax.get()
    if syntax is not None and syntax not in SYNTAXES:
        raise TlangError(f"unknown syntax {syntax!r}; use one of {', '.join(SYNTAXES)}")
    if isinstance(path_or_source, Path) or (
            isinstance(path_or_source, str) and "\n" not in path_or_source
            and path_or_source.endswith((".tl", ".dl")) and Path(path_or_source).exists()):
        p = Path(path_or_source)
        if (syntax or ("datalog" if p.suffix.lower() == ".dl" else "tl")) == "datalog":
            from .datalog import parse_datalog_file
            return parse_datalog_file(p), p.resolve().parent
        return parse_file(p), p.resolve().parent
    if isinstance(path_or_source, str) and path_or_source.endswith((".tl", ".dl")) \
            and "\n" not in path_or_source:
        raise TlangFileError(f"no such file: {path_or_source}")
    if syntax == "datalog":
        from .datalog import parse_datalog
        return parse_datalog(str(path_or_source), name or "<input>"), Path.cwd()
    return parse(Source(name or "<input>", str(path_or_source))), Path.cwd()


def expand(program: A.Program, base_dir: Path, seen: tuple[str, ...] = ()) -> A.Program:
    """Splice ``include "f.tl"`` (relative to the including file) and ``import name``
    (``tlang/stdlib/name.tl``) into the statement list."""
    out: list = []
    for st in program.statements:
        if isinstance(st, A.Include | A.Import):
            if isinstance(st, A.Include):
                from .io import resolve_path
                path = resolve_path(st.path, base_dir)
            else:
                path = Path(__file__).parent / "stdlib" / f"{st.module}.tl"
                if not path.exists():
                    raise TlangError(f"no module named '{st.module}' in the standard library", st.span)
            key = str(path.resolve())
            if key in seen:
                raise TlangError(f"'{path.name}' includes itself", st.span)
            try:
                sub = parse_file(path)
            except TlangFileError as e:
                raise TlangFileError(e.message, st.span) from None
            out.extend(_relative_to(s, path.resolve().parent, base_dir)
                       for s in expand(sub, path.resolve().parent, seen + (key,)).statements)
        else:
            out.append(st)
    return A.Program(tuple(out), span=program.span)


def _relative_to(st: A.Stmt, folder: Path, base_dir: Path) -> A.Stmt:
    """A file statement of an included file, its path made relative to the including program's
    folder (paths are relative to the file that names them)."""
    if isinstance(st, A.Load | A.Store) and not Path(st.path).is_absolute():
        path = os.path.relpath(folder / st.path, Path(base_dir).resolve())
        return A.Load(st.target, path, span=st.span) if isinstance(st, A.Load) else \
            A.Store(path, st.source, span=st.span)
    return st


def run(path_or_source: str | Path, backend: str = "numpy", inputs: dict | None = None,
        syntax: str | None = None, allowed_paths=(), **options) -> Results:
    """Parse, build and evaluate a program; return its tensors and query answers.

    ``syntax="datalog"`` reads Souffle-style Datalog (the default for ``.dl`` files);
    ``allowed_paths`` widens the folders its files may come from; ``options`` are
    ``engine.Options`` fields (``max_iter``, ``timeout``, ``memory_limit``...).  A program
    nested too deeply for Python's stack is retried on a large one (``tlang.limits``)."""
    try:
        return _run(path_or_source, backend, inputs, syntax, allowed_paths, options)
    except RecursionError:
        from .limits import run_deep
        return run_deep(_run, path_or_source, backend, inputs, syntax, allowed_paths, options)


def _run(path_or_source, backend, inputs, syntax, allowed_paths, options) -> Results:
    prog, base = load_program(path_or_source, syntax=syntax)
    prog = expand(prog, base)
    from .directives import check_directives
    check_directives(prog)  # no directive is accepted and ignored
    if any(d.name in ("minimize", "maximize") for st in prog.statements if isinstance(st, A.Query)
           for d in st.directives):  # train first (tlang.learn), then answer with the learned values
        from .learn import run_learning
        return run_learning(prog, base, backend, inputs, options)
    ir_prog = build(prog, base, inputs, allowed_paths)
    if os.environ.get("TLANG_REWRITE", "1") not in ("0", "", "off", "false"):
        from .rewrite.compiler import optimise  # the same verified rewrites as the command line
        ir_prog, _log = optimise(ir_prog)
    return evaluate(ir_prog, Options(backend=backend, **options))
