"""tlang embedded in Python: programs from text, files or Python code; answers as Python values.

In: program text (``tl.Program(src)``), a file (``tl.load(path)``), or
statements built with the DSL of ``dsl_expr`` inside ``with tl.program() as p:``;
input arrays by name (numpy, JAX, CuPy, torch; sets of tuples for relations).
Out: ``p.run(X=x)`` -> ``{name: numpy array}``; ``p.query("R(A, x)")`` -> a
set of tuples of constants (a relation with free variables), a bool (a ground
atom), a float (a scalar) or a numpy array (a tensor); ``p.relation(name)`` ->
set of tuples; ``p.to_source()`` -> canonical .tl text that parses back to
``p.ast``; ``tl.compile(p, backend="jax")`` -> a function of the input arrays
(usable under ``jax.jit`` and ``jax.grad``) returning ``{name: array}``.

A ``Program`` is a list of ``tlang.ast`` statements.  Everything the DSL adds
is exactly what the parser makes for the same text, so the pipeline after
parsing (expand, build, evaluate) is shared with ``tlang run``.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import ast as A
from .dsl_expr import (
    Conj,
    Index,
    Relation,
    Tensor,
    _num_node,
    _to_host,
    as_expr,
    as_index,
    as_ref,
    check_name,
    pop_program,
    push_program,
)
from .dsl_expr import (
    indices as make_indices,
)
from .dsl_source import text_source, user_span
from .source import Source, Span, TlangCheckError, TlangError, TlangFileError

__all__ = ["Program", "program", "load", "compile"]

SYNTAXES = ("tl", "datalog")


def _parse_text(source: Source, syntax: str) -> A.Program:
    if syntax == "tl":
        from .parse import parse
        return parse(source)
    if syntax == "datalog":
        if importlib.util.find_spec("tlang.datalog") is None:
            raise TlangError("Datalog syntax is not available in this version of tlang", None,
                             ["write the program in tensor-logic syntax (syntax='tl')"])
        from .datalog import parse_datalog
        return parse_datalog(source.text, source.name)
    raise TlangError(f"unknown syntax {syntax!r}", None, [f"syntaxes: {', '.join(SYNTAXES)}"])


def _short_traceback(err: TlangError) -> TlangError:
    """Drop tlang's frames from a user-facing error (kept under TLANG_DEBUG=1)."""
    if os.environ.get("TLANG_DEBUG"):
        return err
    return err.with_traceback(None)


def _is_data(st: A.Stmt) -> bool:
    """A statement that only gives a tensor data (an input of the same name replaces it)."""
    if isinstance(st, A.Load | A.Fact):
        return True
    if isinstance(st, A.Equation) and st.op == "=":
        r = st.rhs
        return isinstance(r, A.ListLit | A.Num) or (
            isinstance(r, A.Unary) and r.op == "-" and isinstance(r.operand, A.Num))
    return False


_defines = A.defined_name


def _names_used(stmts: Iterable[A.Stmt]) -> set[str]:
    out: set[str] = set()
    for st in stmts:
        for n in A.walk(st):
            if isinstance(n, A.Ref | A.Name):
                out.add(n.name)
            elif isinstance(n, A.TensorDecl):
                out.add(n.name)
            elif isinstance(n, A.IConst) and isinstance(n.value, str):
                out.add(n.value)
    return out


def _fact_rows(name: str, rows: Any, span: Span | None) -> list[A.Fact]:
    facts = []
    for row in rows:
        items = row if isinstance(row, tuple | list) else (row,)
        ref = A.Ref(name, tuple(as_index(x, span) for x in items), True, span=span)
        for ix in ref.indices:
            if not isinstance(ix, A.IConst):
                raise TlangCheckError("a fact must be ground (constants only)", span)
        facts.append(A.Fact(ref, span=span))
    return facts


def _python_value(ans: Any) -> Any:
    if ans.kind == "bool":
        return bool(ans.value)
    if ans.kind == "relation":
        return set(ans.tuples)
    if ans.kind == "scalar":
        return float(ans.value)
    return np.asarray(ans.value)


class Program:
    """A tensor-logic program: statements from text, a file, or Python (see the module docstring).

    ``Program(source, syntax="tl")`` parses ``source``; ``Program()`` is empty.
    ``with p:`` makes ``p`` the program that DSL statements (``Y[i] = ...``,
    ``Head(x) <= Body(x)``) are added to.
    """

    def __init__(self, source: str = "", syntax: str = "tl", *, name: str | None = None,
                 base_dir: str | Path | None = None) -> None:
        self._stmts: list[A.Stmt] = []
        self._version = 0
        self._cache: dict[tuple, tuple[Any, Any]] = {}
        self.base_dir = Path(base_dir) if base_dir is not None else None
        if source:
            if name or syntax != "tl":
                src = Source(name or "<program>", source)
            else:  # located in the caller's file when the text is there verbatim
                src = text_source(source, "<program>")
            try:
                prog = _parse_text(src, syntax)
            except TlangError as e:
                raise _short_traceback(e) from None
            self._stmts.extend(prog.statements)

    # ------------------------------------------------------------ statements
    @property
    def statements(self) -> tuple[A.Stmt, ...]:
        return tuple(self._stmts)

    @property
    def ast(self) -> A.Program:
        """The program as an AST (``tlang.ast.Program``), equal to what parsing ``to_source()`` gives."""
        return A.Program(tuple(self._stmts))

    def _add(self, stmt: A.Stmt) -> None:
        self._stmts.append(stmt)
        self._version += 1

    def _remove(self, stmt: A.Stmt) -> None:
        for k in range(len(self._stmts) - 1, -1, -1):
            if self._stmts[k] is stmt:
                del self._stmts[k]
                self._version += 1
                return

    def to_source(self) -> str:
        """Canonical .tl text (``tlang fmt`` layout) that parses back to ``self.ast``."""
        from .fmt import format_program
        return format_program(self.ast)

    def __str__(self) -> str:
        return self.to_source()

    def __repr__(self) -> str:
        n = len(self._stmts)
        return f"<tl.Program: {n} statement{'s' if n != 1 else ''}>"

    def __enter__(self) -> Program:
        push_program(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        pop_program(self)

    def __iter__(self):
        raise TypeError("a tl.Program is not iterable; its statements are p.statements")

    def extend(self, source: str, syntax: str = "tl") -> Program:
        """Append the statements of program text; returns ``self``."""
        src = text_source(source, "<program>") if syntax == "tl" else Source("<program>", source)
        try:
            prog = _parse_text(src, syntax)
        except TlangError as e:
            raise _short_traceback(e) from None
        for st in prog.statements:
            self._add(st)
        return self

    # the DSL's explicit forms ---------------------------------------------
    def __getitem__(self, name: str) -> Tensor:
        return Tensor(name, self)

    def __setitem__(self, name: str, value: Any) -> None:
        """``p["W"] = [[1, 2], [3, 4]]`` (a literal), ``p["X"] = "x.csv"`` (a file), ``p["Y"] = expr``."""
        from .dsl_expr import assign
        span = user_span()
        assign(A.Ref(check_name(name, span), (), False, span=span), value, "=", span, self)

    def equation(self, lhs: Any, rhs: Any, op: str = "=") -> None:
        """``lhs op rhs`` with op one of ``= += max= min= avg=`` (``p.equation(Y[i], e, op="max=")``)."""
        from .dsl_expr import assign
        span = user_span()
        if op not in A.ASSIGN_OPS:
            raise TlangCheckError(f"unknown assignment operator {op!r}", span,
                                  [f"operators: {', '.join(A.ASSIGN_OPS)}"])
        with self:
            assign(as_ref(lhs, span), rhs, op, span, self)

    def rule(self, head: Any, *body: Any) -> None:
        """The rule ``head <- body1, body2, ...`` (``head <= b1 & b2`` in a ``with`` block)."""
        span = user_span()
        ref = as_ref(head, span)
        if not ref.boolean and ref.indices:
            ref = A.Ref(ref.name, ref.indices, True, span=ref.span)
        items: list[Any] = []
        for b in body:
            items.extend(b.items if isinstance(b, Conj) else (b,))
        if not items:
            raise TlangCheckError("a rule needs a body", span)
        self._add(A.Rule(ref, tuple(as_expr(b, span) for b in items), span=span))

    def fact(self, *atoms: Any) -> None:
        """Ground atoms: ``p.fact(Parent("Bob", "Charlie"), Parent("Alice", "Bob"))``."""
        span = user_span()
        for atom in atoms:
            ref = as_ref(atom, span)
            if not all(isinstance(ix, A.IConst) for ix in ref.indices):
                raise TlangCheckError("a fact must be ground (constants only)", ref.span or span,
                                      ["index variables make a rule: Head(x) <= Body(x)"])
            self._add(A.Fact(A.Ref(ref.name, ref.indices, True, span=ref.span), span=span))

    def facts(self, relation: str | Relation, rows: Iterable[Any]) -> None:
        """Facts from Python: ``p.facts("Parent", [("Bob", "Charlie"), ...])``; a row may be one value."""
        span = user_span()
        name = relation.name if isinstance(relation, Tensor) else check_name(relation, span)
        for f in _fact_rows(name, rows, span):
            self._add(f)

    def domain(self, name: str, values: int | Iterable[str]) -> None:
        """``domain Pos = 3`` (an int) or ``domain Person = {Alice, Bob}`` (names)."""
        span = user_span()
        check_name(name, span, "domain")
        if isinstance(values, int):
            self._add(A.DomainDecl(name, values, None, span=span))
        else:
            self._add(A.DomainDecl(name, None, tuple(str(v) for v in values), span=span))

    def indices(self, names: str, domain: str | int) -> Index | tuple[Index, ...]:
        """Declare index variables over a domain (``index x, y : Person``) and return them."""
        span = user_span()
        objs = make_indices(names)
        objs_t = objs if isinstance(objs, tuple) else (objs,)
        self._add(A.IndexDecl(tuple(i.name for i in objs_t), domain, span=span))
        return objs

    def tensor(self, name: str, dims: Iterable[int | str] = (), dtype: str | None = None) -> Tensor:
        """Declare a tensor (``tensor W[4, Person] : real``) and return it."""
        span = user_span()
        self._add(A.TensorDecl(check_name(name, span), tuple(dims), False, dtype, span=span))
        return Tensor(name, self)

    def relation_decl(self, name: str, dims: Iterable[int | str], dtype: str | None = None) -> Relation:
        """Declare a Boolean relation (``tensor Parent(Person, Person)``) and return it."""
        span = user_span()
        dims = tuple(dims)
        if not dims:
            raise TlangCheckError("a relation declaration needs its dimensions", span)
        self._add(A.TensorDecl(check_name(name, span), dims, True, dtype, span=span))
        return Relation(name, self)

    def const(self, *tensors: str | Tensor) -> None:
        """``const W, X``: never learned."""
        self._mark("const", tensors)

    def learn(self, *tensors: str | Tensor) -> None:
        """``learn W``: learned when a loss is minimised."""
        self._mark("learn", tensors)

    def _mark(self, kind: str, tensors: tuple) -> None:
        span = user_span()
        names = tuple(t.name if isinstance(t, Tensor) else check_name(t, span) for t in tensors)
        self._add(A.MarkDecl(kind, names, span=span))

    def import_module(self, module: str) -> None:
        """``import embed``: the standard-library module ``tlang/stdlib/embed.tl``."""
        self._add(A.Import(module, span=user_span()))

    def include(self, path: str) -> None:
        """``include "other.tl"`` (relative to the program's folder)."""
        self._add(A.Include(str(path), span=user_span()))

    def store(self, path: str, tensor: Any) -> None:
        """``"out.csv" = Y``: write a tensor or relation to a file after a run."""
        span = user_span()
        self._add(A.Store(str(path), as_ref(tensor, span), span=span))

    def directive(self, name: str, *args: int | float | str, **kwargs: int | float | str) -> None:
        """A directive statement ``@name(arg, key=value)``."""
        self._add(A.DirectiveStmt(_directive(name, args, kwargs, user_span())))

    def add_query(self, target: Any, *directives: tuple[str, dict]) -> None:
        """Add the query statement ``target?`` to the program (answered by ``p.answers()``)."""
        span = user_span()
        if isinstance(target, str):
            q = self._parse_query(target)
        else:
            q = A.Query(as_ref(target, span), (), span=span)
        dirs = tuple(_directive(n, (), kw, span) for n, kw in directives)
        self._add(A.Query(q.target, q.directives + dirs, span=q.span))

    # --------------------------------------------------------------- running
    def _base(self) -> Path:
        return self.base_dir if self.base_dir is not None else Path.cwd()

    def _prepare(self, stmts: list[A.Stmt], inputs: Mapping[str, Any], backend: str):
        """Statements with inputs substituted for data definitions, and the array inputs."""
        arrays: dict[str, Any] = {}
        if not inputs:
            return stmts, arrays
        used = _names_used(stmts)
        span = user_span()
        replaced = set()
        extra: list[A.Stmt] = []
        for name, value in inputs.items():
            if name not in used:
                close = difflib.get_close_matches(name, sorted(used), n=1)
                raise TlangCheckError(f"the input '{name}' is not used by the program", span,
                                      [f"did you mean '{close[0]}'?"] if close else [])
            for st in stmts:
                if _defines(st) == name and not _is_data(st):
                    raise TlangCheckError(f"'{name}' is computed by the program, so it cannot be an input",
                                          st.span, [f"the input '{name}' was given at the call"])
            replaced.add(name)
            if isinstance(value, set | frozenset):
                extra.extend(_fact_rows(name, sorted(value, key=repr), span))
            elif isinstance(value, bool | int | float | np.number):  # 'S = 2' keeps ints usable in x/S
                extra.append(A.Equation(A.Ref(name, span=span), "=", _num_node(value.item() if isinstance(
                    value, np.number) else value, span), span=span))
            else:
                arrays[name] = _to_host(value) if backend in (None, "numpy") else value
        kept = [st for st in stmts if not (_defines(st) in replaced and _is_data(st))]
        return kept + extra, arrays

    def _ir(self, inputs: Mapping[str, Any] | None = None, stmts: list[A.Stmt] | None = None,
            backend: str = "numpy"):
        from .api import expand
        from .build import build
        from .directives import check_directives
        from .pipeline import wants_learning
        given = list(self._stmts) if stmts is None else stmts
        stmts, arrays = self._prepare(given, inputs or {}, backend)
        base = self._base()
        full = expand(A.Program(tuple(stmts)), base)
        check_directives(full)
        return build(full, base, arrays, allow_undefined=wants_learning(full)), arrays

    def _evaluate(self, inputs: Mapping[str, Any] | None, backend: str, options: dict):
        from .engine import Options, evaluate
        key = (self._version, backend, tuple(sorted(options.items())))
        if not inputs and key in self._cache:
            return self._cache[key]
        ir_prog, _ = self._ir(inputs, backend=backend)
        results = evaluate(ir_prog, Options(backend=backend, **options))
        if not inputs:
            self._cache = {key: (ir_prog, results)}
        return ir_prog, results

    def run(self, inputs: Mapping[str, Any] | None = None, *, backend: str = "numpy",
            **arrays: Any) -> dict[str, np.ndarray]:
        """Evaluate the program; return every tensor by name (numpy arrays; relations as 0/1).

        Inputs are given by name (``p.run(X=x)`` or ``p.run({"X": x})``): numpy,
        JAX, CuPy or torch arrays, numbers, or sets of tuples for relations.  An
        input replaces the data (literal, file, facts) of the same name.
        Options of the engine (``max_iter``, ``tol``, ``timeout``, ``memory_limit``)
        are keyword arguments too.
        """
        arrays, options = _split_options({**(inputs or {}), **arrays})
        try:
            _, results = self._evaluate(arrays, backend, options)
        except TlangError as e:
            raise _short_traceback(e) from None
        return {name: np.array(arr) for name, arr in results.tensors.items()}  # copies: results are cached

    def answers(self, inputs: Mapping[str, Any] | None = None, *, backend: str = "numpy",
                **arrays: Any) -> list[Any]:
        """The answers of the program's own queries (``R(x)?`` statements), as Python values."""
        arrays, options = _split_options({**(inputs or {}), **arrays})
        try:
            _, results = self._evaluate(arrays, backend, options)
        except TlangError as e:
            raise _short_traceback(e) from None
        return [_python_value(a) for a in results.answers]

    def _parse_query(self, text: str) -> A.Query:
        from .parse import parse
        body = text.strip()
        suffix = "" if body.endswith("?") else "?"
        prog = parse(text_source(body, "<query>", suffix))
        qs = [s for s in prog.statements if isinstance(s, A.Query)]
        if len(prog.statements) != 1 or len(qs) != 1:
            raise TlangError(f"{text!r} is not one query", prog.span,
                             ["a query is a tensor or an atom: 'Y', 'W[0, j]', 'Ancestor(Alice, x)'"])
        return qs[0]

    def query(self, q: Any, inputs: Mapping[str, Any] | None = None, *, backend: str = "numpy",
              **arrays: Any) -> Any:
        """Answer one query as a Python value.

        ``q`` is query text (``"Ancestor(Alice, x)"``, a trailing ``?`` optional)
        or a DSL reference (``Ancestor("Alice", x)``, ``W[0, j]``, ``Y``).  The
        answer is a set of tuples of constants for a relation with free
        variables, a bool for a ground atom, a float for a scalar and a numpy
        array for a tensor.
        """
        from .engine import answer
        arrays, options = _split_options({**(inputs or {}), **arrays})
        try:
            if isinstance(q, str):
                query = self._parse_query(q)
            else:
                span = user_span()
                query = A.Query(as_ref(q, span), (), span=span)
            _, results = self._evaluate(arrays, backend, options)
            own = [s for s in self._stmts if not isinstance(s, A.Query)]
            q_ir, _ = self._ir(arrays, own + [query], backend)
            return _python_value(answer(q_ir, q_ir.queries[-1], results.tensors))
        except TlangError as e:
            raise _short_traceback(e) from None

    def relation(self, name: str | Tensor, inputs: Mapping[str, Any] | None = None, *,
                 backend: str = "numpy", **arrays: Any) -> set[tuple]:
        """Every true tuple of a Boolean relation, as a set of tuples of constants (str) or positions (int)."""
        from .outputs import relation_tuples
        name = name.name if isinstance(name, Tensor) else name
        arrays, options = _split_options({**(inputs or {}), **arrays})
        try:
            ir_prog, results = self._evaluate(arrays, backend, options)
            info = ir_prog.tensors.get(name)
            if info is None:
                close = difflib.get_close_matches(name, list(ir_prog.tensors), n=1)
                raise TlangCheckError(f"the program has no tensor named '{name}'", None,
                                      [f"did you mean '{close[0]}'?"] if close else [])
            if not info.boolean:
                raise TlangCheckError(f"'{name}' is a numeric tensor, not a relation", info.span,
                                      [f"p.run()['{name}'] gives its values"])
            return set(relation_tuples(ir_prog, name, results.tensors[name]))
        except TlangError as e:
            raise _short_traceback(e) from None


_OPTIONS = ("max_iter", "tol", "memory_limit", "timeout", "semi_naive")


def _split_options(given: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    arrays = {k: v for k, v in given.items() if k not in _OPTIONS}
    options = {k: v for k, v in given.items() if k in _OPTIONS}
    return arrays, options


def _directive(name: str, args: tuple, kwargs: Mapping[str, Any], span: Span | None) -> A.Directive:
    vals: list[tuple[str | None, int | float | str]] = [(None, v) for v in args]
    vals += list(kwargs.items())
    for _, v in vals:
        if isinstance(v, bool) or not isinstance(v, int | float | str):
            raise TlangCheckError(f"a directive argument is a number or a name, not {v!r}", span)
    return A.Directive(check_name(name, span, "directive"), tuple(vals), span=span)


def program(*, base_dir: str | Path | None = None) -> Program:
    """An empty program, for ``with tl.program() as p:``."""
    return Program(base_dir=base_dir)


def load(path: str | Path, syntax: str | None = None) -> Program:
    """A program from a file (``.tl``; ``.dl`` is Datalog); relative data paths start at its folder."""
    p = Path(path)
    if syntax is None:
        syntax = "datalog" if p.suffix.lower() == ".dl" else "tl"
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _short_traceback(TlangFileError(f"no such file: {path}", user_span())) from None
    except OSError as e:
        raise _short_traceback(TlangFileError(f"cannot read {path}: {e}", user_span())) from None
    prog = Program(base_dir=p.resolve().parent)
    try:
        parsed = _parse_text(Source(str(path), text), syntax)
    except TlangError as e:
        raise _short_traceback(e) from None
    prog._stmts.extend(parsed.statements)
    return prog


def compile(prog: Program | str, backend: str = "jax", **options: Any) -> Callable[..., dict[str, Any]]:  # noqa: A001
    """A function of the program's input arrays returning ``{name: array}`` (see the module docstring).

    The program is built once per distinct set of input shapes; the function
    generated by ``tlang.codegen`` for that build is then called with the
    arrays, so it can be traced by ``jax.jit`` and differentiated by ``jax.grad``.
    """
    try:
        from .codegen import compile_function
    except ImportError:
        raise TlangError("tl.compile needs tlang.codegen, which is not available", None) from None
    program_obj = prog if isinstance(prog, Program) else Program(prog)
    cache: dict[tuple, Callable[..., dict[str, Any]]] = {}

    def compiled(inputs: Mapping[str, Any] | None = None, **arrays: Any) -> dict[str, Any]:
        given = {**(inputs or {}), **arrays}
        key = tuple(sorted((k, tuple(np.shape(v)), str(getattr(v, "dtype", type(v).__name__)))
                           for k, v in given.items()))
        fn = cache.get(key)
        if fn is None:
            stubs = {k: np.zeros(np.shape(v)) for k, v in given.items()}
            try:
                ir_prog, _ = program_obj._ir(stubs)
                fn = compile_function(ir_prog, backend=backend, **options)
            except TlangError as e:
                raise _short_traceback(e) from None
            cache[key] = fn
        return fn(**given)

    compiled.program = program_obj  # type: ignore[attr-defined]
    return compiled
