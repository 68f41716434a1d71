"""Build: AST -> IR (``tlang.ir.ProgramIR``).

In: a parsed ``Program`` (includes and imports spliced in by ``expand``),
the program's folder, and optional input arrays by name.  Out: a
``ProgramIR`` whose tensors have shapes, whose symbolic constants have
positions, and whose equations are IR expressions in which every index
variable absent from the LHS is aggregated at the smallest subexpression
holding all its occurrences without splitting a sum or difference
(DESIGN.md 4.1b).  Errors are located ``TlangError``s.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ast as A
from . import ir
from .functions import FUNCTIONS
from .scope import SPLIT_OPS, aggregation_root, lower_expr, separate_terms
from .shapes import Derived, ExtentSolver
from .source import Span, TlangCheckError, TlangShapeError

BUILTIN_RELATIONS = {"Even": "even", "Odd": "odd"}


@dataclass
class _Proto:
    """One equation before lowering: AST LHS/RHS plus where it came from."""
    index: int
    lhs: A.Ref
    op: str
    rhs: A.Expr | None          # None for data equations
    kind: str                   # 'equation' | 'rule' | 'data' | 'fact' | 'input'
    span: Span | None
    data_key: str | None = None
    slices: int = 0
    vars: set[str] = field(default_factory=set)
    virtual: tuple[str, int] | None = None
    accumulate: str | None = None   # runs once per step of this virtual index (16.3)
    slice_bind: list[str] = field(default_factory=list)   # LHS variables that run over RHS slices
    literal_axes: list[tuple] | None = None   # a literal written where its indexed LHS says (16.7)
    display: dict[str, str] = field(default_factory=dict)   # fresh index name -> the name written


def _index_vars(ix: A.IndexExpr, out: set[str]) -> None:
    if isinstance(ix, A.IVar):
        out.add(ix.name)
    elif isinstance(ix, A.IBin):
        _index_vars(ix.left, out)
        _index_vars(ix.right, out)
    elif isinstance(ix, A.IVirtual):
        out.add(ix.name)


def _refs(e) -> list[A.Ref]:
    return [n for n in A.walk(e) if isinstance(n, A.Ref)]


def list_array(lit: A.ListLit) -> np.ndarray:
    """A (rectangular) list literal as a float array."""
    def conv(x):
        return [conv(i) for i in x.items] if isinstance(x, A.ListLit) else x
    try:
        arr = np.array(conv(lit), dtype=float)
    except (ValueError, TypeError):
        raise TlangShapeError("this list literal is ragged: its rows have different lengths",
                              lit.span) from None
    return arr


class Builder:
    def __init__(self, program: A.Program, base_dir: str | Path = ".",
                 inputs: dict[str, object] | None = None, allowed_paths=(),
                 allow_undefined: bool = False) -> None:
        self.program = program
        self.base_dir = Path(base_dir)
        self.inputs = dict(inputs or {})
        self.allowed_paths = tuple(Path(p) for p in allowed_paths)
        self.allow_undefined = allow_undefined
        self.solver = ExtentSolver()
        self.protos: list[_Proto] = []
        self.data: dict[str, object] = {}
        self.arity: dict[str, tuple[int, Span | None]] = {}
        self.boolean: dict[str, Span | None] = {}
        self.numeric_def: dict[str, Span | None] = {}
        self.defined: set[str] = set()
        self.int_scalars: dict[str, int] = {}
        self.virtual_axis: dict[str, int] = {}
        self.virtual_offset: dict[str, tuple[str, int, Span | None]] = {}  # tensor -> (index, offset, where)
        self.lhs_shifts: list[tuple] = []   # (proto, variable, its key, LHS slot, where): X[i, t+1] = ...
        self.stored: dict[str, A.Store] = {}   # files the program writes, by identity, as scanned
        self.facts: dict[str, list[A.Fact]] = {}
        self.first_span: dict[str, Span | None] = {}
        self.decl_dtype: dict[str, str] = {}
        self.marks: dict[str, str] = {}
        self._fresh = 0

    # ---------------------------------------------------------------- helpers
    def _slot(self, t: str, a: int) -> tuple:
        return ("slot", t, a)

    def _note_arity(self, ref: A.Ref) -> None:
        n = len(ref.indices)
        self.first_span.setdefault(ref.name, ref.span)
        if ref.name in self.arity:
            m, span = self.arity[ref.name]
            if m != n:
                raise TlangCheckError(
                    f"'{ref.name}' is used with {n} ind{'ex' if n == 1 else 'ices'} here "
                    f"but with {m} at {span.short() if span else 'another place'}", ref.span,
                    ["a tensor keeps the same number of indices everywhere"])
        else:
            self.arity[ref.name] = (n, ref.span)

    def _int_const(self, e: A.IndexExpr, span: Span | None) -> int:
        if isinstance(e, A.IConst) and isinstance(e.value, int):
            return e.value
        if isinstance(e, A.IConst) and not e.quoted and e.value in self.int_scalars:
            return self.int_scalars[e.value]
        raise TlangCheckError("the divisor of an index must be an integer (a number, or a scalar "
                              "set to an integer such as S = 2)", getattr(e, "span", None) or span)

    # ------------------------------------------------------------ pass 1: scan
    def scan(self) -> None:
        stmts = self.program.statements
        self.declared_indices = {n for st in stmts if isinstance(st, A.IndexDecl) for n in st.names}
        for st in stmts:  # compile-time integer scalars (S = 2, N = 3)
            if isinstance(st, A.Equation) and not st.lhs.indices and st.op == "=":
                v = st.rhs
                if isinstance(v, A.Num) and isinstance(v.value, int):
                    self.int_scalars[st.lhs.name] = v.value
        for st in stmts:
            if isinstance(st, A.TensorDecl):
                if st.dtype is not None and st.dtype not in A.DTYPES:
                    raise TlangCheckError(f"unknown element type '{st.dtype}'", st.span,
                                          [f"types are {', '.join(A.DTYPES)}"])
                if st.dims:
                    self._note_arity(A.Ref(st.name, tuple(A.IVar("_") for _ in st.dims), st.boolean,
                                           span=st.span))
                if st.boolean or st.dtype == "bool":
                    self.boolean.setdefault(st.name, st.span)
                if st.dtype:
                    self.decl_dtype[st.name] = st.dtype
            elif isinstance(st, A.MarkDecl):
                for n in st.names:
                    self.marks[n] = st.kind
        for st in stmts:
            if isinstance(st, A.Equation):
                self._scan_equation(st)
            elif isinstance(st, A.Rule):
                _check_safe(st, self.declared_indices)
                self._add_proto(st.head, "=", _conj(st.body), "rule", st.span)
                self.boolean.setdefault(st.head.name, st.head.span)
            elif isinstance(st, A.Fact):
                self._scan_fact(st)
            elif isinstance(st, A.Load):
                written = self.stored.get(self._where(st.path))
                if written is not None:  # reads and writes in statement order: it reads what was written
                    self._copy(st, written)
                else:
                    self._scan_load(st)
            elif isinstance(st, A.Query | A.Store):
                ref = st.target if isinstance(st, A.Query) else st.source
                if ref.indices:
                    self._note_arity(ref)
                if isinstance(st, A.Store):
                    self.stored[self._where(st.path)] = st
        for name, value in self.inputs.items():
            arr = value
            key = f"input:{name}"
            self.data[key] = arr
            shape = tuple(getattr(arr, "shape", ()))
            self._data_proto(name, shape, key, "input", None)

    def _scan_equation(self, st: A.Equation) -> None:
        if isinstance(st.rhs, A.ListLit):
            arr = list_array(st.rhs)
            key = f"lit:{len(self.data)}"
            self.data[key] = arr
            if st.lhs.indices and not all(isinstance(ix, A.IVar) for ix in st.lhs.indices):
                self._indexed_literal(st, arr, key)
                return
            if st.lhs.indices and len(st.lhs.indices) != arr.ndim:
                raise TlangShapeError(f"'{st.lhs.name}' has {len(st.lhs.indices)} indices but the "
                                      f"literal has {arr.ndim} dimensions", st.span)
            self._data_proto(st.lhs.name, arr.shape, key, "data", st.span, st.lhs)
            return
        from .formal_ir import normalize_equation  # einsum("ij,jk->ik", A, B): A -> A[i, j]
        lhs, rhs = normalize_equation(st.lhs, st.rhs)
        loop = _loop_var(lhs, rhs)
        if loop is not None and st.op in SPLIT_OPS:  # terms without the loop are not repeated per step
            terms = _top_terms(rhs)
            if len(terms) > 1 and any(_loop_var(lhs, t) != loop for t in terms):
                for t in terms:
                    self._add_proto(lhs, st.op, t, "equation", st.span)
                return
        self._add_proto(lhs, st.op, rhs, "equation", st.span)

    def _scan_fact(self, st: A.Fact) -> None:
        self._note_arity(st.atom)
        self.boolean.setdefault(st.atom.name, st.span)
        self.defined.add(st.atom.name)
        for a, ix in enumerate(st.atom.indices):
            if isinstance(ix, A.IConst) and isinstance(ix.value, int) and ix.value >= 0:
                self.solver.require(self._slot(st.atom.name, a), ix.value + 1, ix.span or st.span)
            if not isinstance(ix, A.IConst):
                raise TlangCheckError("a fact must be ground (constants only)", ix.span or st.span,
                                      ["lowercase names are variables; write a rule 'Head(x) <- Body(x)' "
                                       "to derive facts"])
        self.facts.setdefault(st.atom.name, []).append(st)

    def _where(self, path: str) -> str:
        """A file's identity, for matching a read with an earlier write of the same file."""
        try:
            given = Path(path)
            return str((given if given.is_absolute() else self.base_dir / given).resolve())
        except (OSError, RuntimeError, ValueError):
            return path

    def _copy(self, st: A.Load, written: A.Store) -> None:
        """``V[j] = "w.csv"`` after ``"w.csv" = W``: V is what was written, W (16.8)."""
        src = written.source
        target = st.target
        n = len(src.indices) if src.indices else self.arity.get(src.name, (0, None))[0]
        idx = target.indices or tuple(A.IVar(f"_f{k}") for k in range(n))
        if len(idx) != n:
            raise TlangShapeError(f"'{target.name}' has {len(idx)} indices but '{written.path}' holds "
                                  f"'{src.name}', which has {n}", st.span,
                                  [f"it is written at {written.span.where()}" if written.span else
                                   "it is written earlier in the program"])
        lhs = A.Ref(target.name, idx, target.boolean, span=target.span)
        self._add_proto(lhs, "=", A.Ref(src.name, idx, src.boolean, span=written.span), "equation", st.span)

    def _scan_load(self, st: A.Load) -> None:
        from .source import TlangFileError
        try:
            self._load(st)
        except TlangFileError as e:  # locate the file's problem at the statement that reads it
            if e.span is not None:
                raise
            raise TlangFileError(e.message, st.span, e.notes) from None

    def _load(self, st: A.Load) -> None:
        from . import io as tio
        path = tio.resolve_path(st.path, self.base_dir, self.allowed_paths)
        ext = path.suffix.lower()
        target = st.target
        if ext == ".txt":
            words = tio.read_text(path)
            key = f"text:{len(self.data)}"
            self.data[key] = words
            self.boolean.setdefault(target.name, st.span)
            self._data_proto(target.name, (len(words), None), key, "text", st.span, target)
        elif target.boolean or ext == ".facts":
            rows = tio.read_facts(path)
            key = f"facts:{len(self.data)}"
            self.data[key] = rows
            self.boolean.setdefault(target.name, st.span)
            arity = len(rows[0]) if rows else len(target.indices)
            self._data_proto(target.name, (None,) * arity, key, "facts", st.span, target)
        else:
            arr = tio.read_dense(path)
            key = f"file:{len(self.data)}"
            self.data[key] = arr
            if target.indices and len(target.indices) != arr.ndim:
                raise TlangShapeError(f"'{target.name}' has {len(target.indices)} indices but "
                                      f"{st.path} holds a {arr.ndim}-dimensional array", st.span)
            self._data_proto(target.name, arr.shape, key, "data", st.span, target)

    def _indexed_literal(self, st: A.Equation, arr: np.ndarray, key: str) -> None:
        """``V[3:6] = [10, 20, 30]``, ``W[1] = [5, 6]``: constants select, each slice or variable
        takes the next axis of the literal, and the literal's remaining axes follow (16.7)."""
        axes: list[tuple] = []
        k = 0
        for ix in st.lhs.indices:
            if isinstance(ix, A.IConst):
                axes.append(("const", ix))
            elif isinstance(ix, A.ISlice | A.IVar):
                if k >= arr.ndim:
                    raise TlangShapeError(f"'{st.lhs.name}' names {k + 1} axes for the literal to fill but "
                                          f"the literal has {arr.ndim} dimension{'s' if arr.ndim != 1 else ''}",
                                          ix.span or st.span)
                axes.append(("slice" if isinstance(ix, A.ISlice) else "var", ix, k))
                k += 1
            else:
                raise TlangCheckError("left of a literal, an index is a constant, a slice or a variable",
                                      ix.span or st.span, ["e.g. V[3:6] = [10, 20, 30] or W[1] = [5, 6]"])
        axes += [("var", None, j) for j in range(k, arr.ndim)]
        name = st.lhs.name
        self._note_arity(A.Ref(name, tuple(A.IVar(f"_{a}") for a in range(len(axes))), span=st.span))
        self.defined.add(name)
        self.numeric_def.setdefault(name, st.span)
        for a, spec in enumerate(axes):
            slot = self._slot(name, a)
            if spec[0] == "const":
                ix = spec[1]
                if isinstance(ix.value, int) and ix.value >= 0:
                    self.solver.require(slot, ix.value + 1, ix.span or st.span)
                elif not ix.quoted and ix.value in self.int_scalars:
                    self.solver.require(slot, self.int_scalars[ix.value] + 1, ix.span or st.span)
            elif spec[0] == "slice":
                ix, n = spec[1], arr.shape[spec[2]]
                start, step = ix.start or 0, ix.step or 1
                if start >= 0 and step > 0 and (ix.stop is None or ix.stop >= 0):
                    self.solver.require(slot, max(ix.stop or 0, start + step * (n - 1) + 1), ix.span or st.span)
            else:
                self.solver.require(slot, arr.shape[spec[2]], st.span)
        p = _Proto(len(self.protos), A.Ref(name, (), span=st.span), "=", None, "data", st.span, data_key=key)
        p.literal_axes = axes
        p.vars = {f"_{j}" for j in range(arr.ndim)}
        self.protos.append(p)

    def _data_proto(self, name: str, shape: tuple, key: str, kind: str, span: Span | None,
                    lhs: A.Ref | None = None) -> None:
        ref = A.Ref(name, tuple(A.IVar(f"_{k}") for k in range(len(shape))), span=span)
        self._note_arity(ref)
        self.defined.add(name)
        for a, n in enumerate(shape):
            if n is not None:
                why = {"input": f"the input array {name}", "data": "its data"}.get(kind, "its data")
                self.solver.fix(self._slot(name, a), int(n), span, why)
        if kind == "data":
            self.numeric_def.setdefault(name, span)
        p = _Proto(len(self.protos), ref, "=", None, kind, span, data_key=key)
        p.vars = {f"_{k}" for k in range(len(shape))}
        self.protos.append(p)

    def _add_proto(self, lhs: A.Ref, op: str, rhs: A.Expr, kind: str, span: Span | None) -> None:
        rhs, display = _separate(lhs, rhs, op)
        p = _Proto(len(self.protos), lhs, op, rhs, kind, span)
        p.display = display
        self.defined.add(lhs.name)
        if kind == "equation" and not lhs.boolean:
            self.numeric_def.setdefault(lhs.name, span)
        elif lhs.boolean:
            self.boolean.setdefault(lhs.name, span)
        p.slices = sum(1 for r in _refs(rhs) for ix in r.indices if isinstance(ix, A.ISlice))
        if p.slices:  # LHS variables the right does not use run over its slices, in order
            used: set[str] = set()
            for r in _refs(rhs):
                for ix in r.indices:
                    _index_vars(ix, used)
            free = [ix.name for ix in lhs.indices if isinstance(ix, A.IVar) and ix.name not in used]
            p.slice_bind = free[:p.slices]
        if lhs.indices or lhs.boolean or p.slices:  # a slice on the right keeps its axis: appended
            extra = tuple(A.IVar(f"_s{k}") for k in range(p.slices - len(p.slice_bind)))
            self._note_arity(A.Ref(lhs.name, lhs.indices + extra, lhs.boolean, span=lhs.span))
        for ix in lhs.indices:
            _index_vars(ix, p.vars)
        for r in _refs(rhs):
            for ix in r.indices:
                _index_vars(ix, p.vars)
        for k, ix in enumerate(lhs.indices):
            if isinstance(ix, A.IVirtual):
                if p.virtual is not None:
                    raise TlangCheckError("an equation can have one virtual index", ix.span)
                p.virtual = (ix.name, ix.offset)
                self.virtual_axis[lhs.name] = k
                seen = self.virtual_offset.setdefault(lhs.name, (ix.name, ix.offset, ix.span))
                if seen[:2] != (ix.name, ix.offset):
                    raise TlangCheckError(
                        f"'{lhs.name}' is written at *{seen[0]}{_offset(seen[1])} elsewhere "
                        f"but at *{ix.name}{_offset(ix.offset)} here", ix.span,
                        ["every equation of a virtual-index loop writes its tensor at the same step"])
        if p.virtual is None:
            p.accumulate = _loop_var(lhs, rhs)
            if p.accumulate is not None and not aggregation_root(
                    rhs, tuple(v for v in p.vars if _on_lhs(lhs, v)), p.vars, p.accumulate, op):
                raise TlangCheckError(
                    f"this equation runs once per step of the virtual index '{p.accumulate}', which "
                    "its right-hand side aggregates inside a function", span,
                    ["a virtual index can only be aggregated over a whole term of the equation"])
        self.protos.append(p)

    # --------------------------------------------------------- pass 2: unify
    def unify(self) -> None:
        writers: dict[str, int] = {}
        for p in self.protos:
            writers[p.lhs.name] = writers.get(p.lhs.name, 0) + 1
        declared = {st.name for st in self.program.statements if isinstance(st, A.TensorDecl) and st.dims}
        # numeric tensors written by several equations may be written in blocks of different sizes
        self.blocks = {t for t, n in writers.items() if n > 1 and t not in self.boolean and t not in declared}
        for p in self.protos:
            if p.rhs is None:
                continue
            self._unify_ref(p, p.lhs, lhs=True)
            for r in _refs(p.rhs):
                if r.name in BUILTIN_RELATIONS:
                    continue
                self._note_arity(r)
                self._unify_ref(p, r, lhs=False)
            slice_vars = [v for (pi, _), v in self._slices.items() if pi == p.index]
            for k, v in enumerate(slice_vars):
                self.solver.union(("var", p.index, v), self._slot(p.lhs.name, len(p.lhs.indices) + k))
            for n in A.walk(p.rhs):
                if isinstance(n, A.Call):
                    self._check_call(n)
                    if FUNCTIONS[n.fn].kind == "tensor":
                        self._concat_extent(p, n)
                elif isinstance(n, A.Name) and n.name not in p.vars and n.name in FUNCTIONS:
                    raise TlangCheckError(f"'{n.name}' is a function: write {n.name}(...)", n.span)
        decls = [s for s in self.program.statements if isinstance(s, A.IndexDecl | A.DomainDecl |
                                                                    A.TensorDecl)]
        for st in decls:
            if isinstance(st, A.DomainDecl):
                key = ("dom", st.name)
                if st.size is not None:
                    self.solver.fix(key, st.size, st.span, f"domain {st.name}")
                else:
                    for s in st.symbols or ():
                        self.solver.symbol(key, s)
                    self.solver.fix(key, len(st.symbols or ()), st.span, f"domain {st.name}")
            elif isinstance(st, A.IndexDecl):
                names = set(st.names)
                for p in self.protos:
                    for v in sorted(p.vars):  # an index renamed apart per term keeps its declaration
                        if p.display.get(v, v) in names:
                            self._bind_domain(("var", p.index, v), st.domain, st.span)
            elif isinstance(st, A.TensorDecl):
                for a, d in enumerate(st.dims):
                    self._bind_domain(self._slot(st.name, a), d, st.span)

    def _concat_extent(self, p: _Proto, call: A.Call) -> None:
        """concat merges the argument's non-LHS variables into the LHS variable it lacks."""
        inner: list[str] = []
        for r in _refs(call.args[0]):
            for ix in r.indices:
                if isinstance(ix, A.IVar) and ix.name not in inner:
                    inner.append(ix.name)
        lhs = [ix.name for ix in p.lhs.indices if isinstance(ix, A.IVar)]
        merge = [v for v in inner if v not in lhs]
        into = [v for v in lhs if v not in inner]
        if len(into) == 1 and merge:
            self.solver.derive(Derived("product", ("var", p.index, into[0]),
                                       tuple(("var", p.index, v) for v in merge), span=call.span))

    def _bind_domain(self, key: tuple, dom: str | int, span: Span | None) -> None:
        if isinstance(dom, int):
            self.solver.fix(key, dom, span, "a declaration")
        else:
            self.solver.union(key, ("dom", dom))

    def _check_call(self, n: A.Call) -> None:
        sig = FUNCTIONS.get(n.fn)
        if sig is None:
            import difflib
            close = difflib.get_close_matches(n.fn, list(FUNCTIONS), n=3)
            raise TlangCheckError(f"unknown function '{n.fn}'", n.span,
                                  [f"did you mean {' or '.join(repr(c) for c in close)}?"] if close else
                                  ["relations (Boolean tensors) start with a capital letter"])
        k = len(n.args)
        if k < sig.min_args or (sig.max_args is not None and k > sig.max_args):
            want = str(sig.min_args) if sig.min_args == sig.max_args else \
                f"{sig.min_args} to {sig.max_args}"
            raise TlangCheckError(f"'{n.fn}' takes {want} argument{'s' if want != '1' else ''}, "
                                  f"not {k}", n.span)
        for key, _ in n.kwargs:
            if key not in sig.kwargs:
                raise TlangCheckError(f"'{n.fn}' has no argument named '{key}'", n.span)

    def _unify_ref(self, p: _Proto, r: A.Ref, lhs: bool) -> None:
        for a, ix in enumerate(r.indices):
            if lhs and isinstance(ix, A.ISlice):
                raise TlangCheckError("a slice can be read but not written", ix.span or r.span,
                                      ["write the elements with an index variable, e.g. "
                                       "W[i] = ... with 'index i : N', or element by element"])
            slot = self._slot(r.name, a)
            span = ix.span or r.span
            if isinstance(ix, A.IVar):
                label = f"index '{p.display.get(ix.name, ix.name)}' (axis {a + 1} of {r.name})"
                if r.name in self.blocks:  # written in blocks: the axis holds the variable's range
                    self.solver.block(("var", p.index, ix.name), slot, span, label)
                else:
                    self.solver.union(("var", p.index, ix.name), slot, span, label)
            elif isinstance(ix, A.IConst):
                if self.virtual_axis.get(r.name) == a:
                    continue  # the buffer of a virtual index: not a position (X[0, 0] = 1 sets its start)
                if isinstance(ix.value, int) and ix.value >= 0:
                    self.solver.require(slot, ix.value + 1, span)
                elif isinstance(ix.value, str) and not ix.quoted and ix.value in self.int_scalars:
                    self.solver.require(slot, self.int_scalars[ix.value] + 1, span)
            elif isinstance(ix, A.IVirtual):  # not stored: its nominal extent is the loop's
                self.solver.union(("var", p.index, ix.name), slot)
            elif isinstance(ix, A.ISlice):
                if p.slice_bind:  # an LHS variable the right does not use otherwise runs over the slice
                    var = p.slice_bind.pop(0)
                else:
                    var = f"_s{self._fresh}"
                    self._fresh += 1
                p.vars.add(var)
                self._slices[(p.index, id(ix))] = var
                self.solver.derive(Derived("slice", ("var", p.index, var), (slot,), span=span,
                                           extra=(ix.start, ix.stop, ix.step)))
            elif isinstance(ix, A.IBin):
                self._derive_bin(p, ix, slot, lhs, span)

    def _affine(self, ix: A.IndexExpr, span) -> tuple[list[tuple[str, int]], int]:
        if isinstance(ix, A.IVar):
            return [(ix.name, 1)], 0
        if isinstance(ix, A.IConst):
            if isinstance(ix.value, int):
                return [], ix.value
            if not ix.quoted and ix.value in self.int_scalars:
                return [], self.int_scalars[ix.value]
            raise TlangCheckError(f"'{ix.value}' in index arithmetic must be an integer", ix.span or span)
        if isinstance(ix, A.IBin) and ix.op in "+-":
            lt, lc = self._affine(ix.left, span)
            rt, rc = self._affine(ix.right, span)
            sign = 1 if ix.op == "+" else -1
            return lt + [(v, sign * c) for v, c in rt], lc + sign * rc
        raise TlangCheckError("unsupported index arithmetic", getattr(ix, "span", None) or span,
                              ["use i+1, i-1, x+dx or x/S"])

    def _derive_bin(self, p: _Proto, ix: A.IBin, slot, lhs: bool, span) -> None:
        if ix.op == "/":
            S = self._int_const(ix.right, span)
            if S <= 0:
                raise TlangCheckError("the divisor of an index must be positive", span)
            terms, c = self._affine(ix.left, span)
            if len(terms) == 1 and c == 0:
                var = ("var", p.index, terms[0][0])
                if lhs:
                    self.solver.derive(Derived("div_lhs", slot, (var,), S, span))
                self.solver.derive(Derived("div_rhs", var, (slot,), S, span))
            return
        terms, c = self._affine(ix, span)
        vs = [("var", p.index, v) for v, _ in terms]
        if len(vs) == 1:
            if lhs:
                self.solver.derive(Derived("lhs_shift", slot, (vs[0],), c, span))
                if c > 0:
                    self.lhs_shifts.append((p, terms[0][0], vs[0], slot, span))
            self.solver.derive(Derived("shift", vs[0], (slot,), c, span))
        elif len(vs) == 2:
            self.solver.derive(Derived("conv", vs[0], (slot, vs[1]), c, span))
            self.solver.derive(Derived("conv", vs[1], (slot, vs[0]), c, span))

    def _declared_domains(self) -> None:
        """A constant outside a declared symbolic domain names itself and its line (``Carol`` with
        ``domain D = {Alice, Bob}``), instead of a position out of range."""
        for st in self.program.statements:
            if not isinstance(st, A.DomainDecl) or st.symbols is None:
                continue
            root = self.solver.find(("dom", st.name))
            allowed = set(st.symbols)
            for slot, const in self._constants():
                if const.value not in allowed and self.solver.find(slot) == root:
                    close = difflib.get_close_matches(str(const.value), [str(s) for s in st.symbols], n=1)
                    raise TlangCheckError(
                        f"'{const.value}' is not a constant of domain {st.name}", const.span,
                        [f"domain {st.name} = {{{', '.join(map(str, st.symbols))}}} at {st.span.where()}"
                         if st.span else f"domain {st.name} has {', '.join(map(str, st.symbols))}"]
                        + ([f"did you mean '{close[0]}'?"] if close else []))

    def _constants(self):
        """(slot, constant) for every symbolic constant written in the program, in order."""
        for st in self.program.statements:
            refs = [st.atom] if isinstance(st, A.Fact) else _refs(st) if isinstance(st, A.Equation | A.Rule) else []
            for r in refs:
                for a, ix in enumerate(r.indices):
                    if isinstance(ix, A.IConst) and isinstance(ix.value, str) and \
                            (ix.quoted or ix.value not in self.int_scalars):
                        yield self._slot(r.name, a), ix

    def _undefined_constants(self) -> None:
        """``Y = X[L]`` with no ``L`` anywhere: a constant read from a numeric tensor must be
        defined by a fact, a domain, a file, an equation that writes it, or an integer scalar."""
        defined = {(self.solver.find(slot), s) for slot, s in self.symbol_defs}
        for st in self.program.statements:
            if isinstance(st, A.DomainDecl) and st.symbols:
                defined |= {(self.solver.find(("dom", st.name)), s) for s in st.symbols}
        for slot, const in self.symbol_reads:
            if (self.solver.find(slot), const.value) in defined:
                continue
            names = sorted(set(self.int_scalars) | {s for k, s in self.symbol_defs
                                                    if self.solver.find(k) == self.solver.find(slot)})
            close = difflib.get_close_matches(str(const.value), names, n=1)
            what = f'"{const.value}"' if const.quoted else f"'{const.value}'"
            raise TlangCheckError(
                f"{what} is not defined: nothing gives it a position", const.span,
                ([f"did you mean '{close[0]}'?"] if close else []) +
                ["a capitalised name in index position is a constant: define it with a fact, a domain "
                 "declaration or an equation that writes it, or give it an integer value (L = 2)"])

    def _unbounded_growth(self) -> None:
        """``X[0, 0] = 1`` with ``X[i, t+1] = 0.5 X[i, t]`` and nothing else bounding t: the axis is only
        as long as its constants, so the recurrence would silently run no step -- an error (16.4)."""
        fallback = "the constants used with it"
        for p, name, var, slot, span in self.lhs_shifts:
            cs, cv = self.solver.cls(slot), self.solver.cls(var)
            derived = cv.why in (fallback, "index arithmetic", "its largest block") and cv.extent == cs.extent
            if cs.why == fallback and (self.solver.find(var) == self.solver.find(slot) or derived):
                shown = p.display.get(name, name)
                raise TlangShapeError(
                    f"nothing fixes the length of index '{shown}': only constant positions bound axis "
                    f"{slot[2] + 1} of '{slot[1]}' (extent {cs.extent}), and this equation writes beyond "
                    "them", span,
                    [f"declare its length, e.g. 'index {shown} : 10', or make it virtual "
                     f"({slot[1]}[..., *{shown}+1] = ...) to run it to a fixpoint"])

    # ---------------------------------------------------- pass 3: constants
    def symbols(self) -> None:
        self.symbol_defs: list[tuple[tuple, str]] = []            # (slot, constant): defines it
        self.symbol_reads: list[tuple[tuple, A.IConst]] = []       # only read from a numeric tensor
        for st in self.program.statements:
            refs: list[A.Ref] = []
            reads: set[int] = set()
            if isinstance(st, A.Fact):
                refs = [st.atom]
            elif isinstance(st, A.Equation | A.Rule):
                refs = _refs(st)
                if isinstance(st, A.Equation):
                    reads = {id(r) for r in _refs(st.rhs) if r.name not in self.boolean}
            for r in refs:
                for a, ix in enumerate(r.indices):
                    if isinstance(ix, A.IConst) and isinstance(ix.value, str) and \
                            (ix.quoted or ix.value not in self.int_scalars):
                        self.solver.symbol(self._slot(r.name, a), ix.value)
                        if id(r) in reads:
                            self.symbol_reads.append((self._slot(r.name, a), ix))
                        else:
                            self.symbol_defs.append((self._slot(r.name, a), ix.value))
        for p in self.protos:
            if p.kind == "facts":
                for row in self.data[p.data_key]:
                    for a, v in enumerate(row):
                        if isinstance(v, str):
                            self.solver.symbol(self._slot(p.lhs.name, a), v)
                            self.symbol_defs.append((self._slot(p.lhs.name, a), v))
                        else:
                            self.solver.require(self._slot(p.lhs.name, a), v + 1, p.span)
            elif p.kind == "text":
                for w in self.data[p.data_key]:
                    self.solver.symbol(self._slot(p.lhs.name, 1), w)
                    self.symbol_defs.append((self._slot(p.lhs.name, 1), w))

    def build(self) -> ir.ProgramIR:
        self._slices: dict = {}
        self.scan()
        self.unify()
        self.symbols()
        self._declared_domains()
        self.solver.harden()
        self.solver.solve()
        self._unbounded_growth()
        self._undefined_constants()
        return _assemble(self)


def _separate(lhs: A.Ref, rhs: A.Expr, op: str) -> tuple[A.Expr, dict[str, str]]:
    """The RHS with each index that is aggregated at several places renamed apart (terms are
    separate equations), and the fresh names' written names (for messages)."""
    lhs_vars: list[str] = []
    keep: set[str] = set()
    for ix in lhs.indices:
        if isinstance(ix, A.IVirtual):
            keep.add(ix.name)
        vs: set[str] = set()
        _index_vars(ix, vs)
        lhs_vars += sorted(v for v in vs if v not in lhs_vars)
    eq_vars = set(lhs_vars)
    for r in _refs(rhs):
        for ix in r.indices:
            _index_vars(ix, eq_vars)
    loop = _loop_var(lhs, rhs)
    if loop is not None:
        keep.add(loop)
    return separate_terms(rhs, tuple(lhs_vars), eq_vars, keep, op)


def _check_safe(st: A.Rule, declared: set[str]) -> None:
    """Every variable of a rule's head occurs in a positive atom of its body (as in Datalog), or
    ranges over a declared domain (``index x : Person``)."""
    bound: set[str] = set()
    stack: list[tuple[object, bool]] = [(b, False) for b in st.body]
    while stack:
        e, neg = stack.pop()
        if isinstance(e, A.Ref):
            if not neg and e.name not in BUILTIN_RELATIONS:
                for ix in e.indices:
                    _index_vars(ix, bound)
        elif isinstance(e, A.Unary):
            stack.append((e.operand, neg or e.op == "not"))
        elif isinstance(e, A.Binary):
            if e.op in A.COMPARE_OPS:
                continue  # a comparison tests variables, it does not bind them
            stack += [(e.left, neg), (e.right, neg)]
        elif isinstance(e, A.Call):
            stack += [(a, neg or e.fn == "not") for a in e.args]
    for ix in st.head.indices:
        vs: set[str] = set()
        _index_vars(ix, vs)
        for v in sorted(vs - bound - declared):
            raise TlangCheckError(f"variable '{v}' in the head of this rule is not bound by a positive atom "
                                  "of its body", ix.span or st.head.span,
                                  ["every variable of the head must occur in a relation or tensor of the "
                                   f"body that is not negated, or be declared ('index {v} : D')"])


def _offset(c: int) -> str:
    return "" if c == 0 else f"{c:+d}"


def _on_lhs(lhs: A.Ref, v: str) -> bool:
    vs: set[str] = set()
    for ix in lhs.indices:
        if not isinstance(ix, A.IVirtual):
            _index_vars(ix, vs)
    return v in vs


def _loop_var(lhs: A.Ref, rhs: A.Expr) -> str | None:
    """The virtual index an equation without one on its LHS runs inside (the paper's loss
    ``Loss = (Y[e] - X[*e, N, j])^2``): a virtual read ``X[*e]`` whose index is also used as an
    ordinary one (``Y[e]``, or on the LHS).  Otherwise a virtual read is the buffer's final value."""
    if any(isinstance(ix, A.IVirtual) for ix in lhs.indices):
        return None
    virtual: list[str] = []
    plain: set[str] = set()
    for ix in lhs.indices:
        _index_vars(ix, plain)
    for n in A.walk(rhs):
        if isinstance(n, A.Ref):
            for ix in n.indices:
                if isinstance(ix, A.IVirtual):
                    virtual.append(ix.name)
                else:
                    _index_vars(ix, plain)
        elif isinstance(n, A.Name):
            plain.add(n.name)
    return next((v for v in virtual if v in plain), None)


def _top_terms(rhs: A.Expr) -> list[A.Expr]:
    """The terms of a sum at the top of a right-hand side (a difference negates its right side)."""
    if isinstance(rhs, A.Binary) and rhs.op in "+-":
        right = _top_terms(rhs.right)
        if rhs.op == "-":
            right = [A.Unary("-", t, span=t.span) for t in right]
        return _top_terms(rhs.left) + right
    return [rhs]


def _conj(body: tuple[A.Expr, ...]) -> A.Expr:
    out = body[0]
    for b in body[1:]:
        out = A.Binary("*", out, b, span=(out.span.merge(b.span) if out.span else b.span))
    return out


def _assemble(b: Builder) -> ir.ProgramIR:
    from .assemble import assemble
    return assemble(b)


def build(program: A.Program, base_dir: str | Path = ".", inputs: dict | None = None,
          allowed_paths=(), allow_undefined: bool = False) -> ir.ProgramIR:
    """AST -> IR for a whole program (see module docstring)."""
    return Builder(program, base_dir, inputs, allowed_paths, allow_undefined).build()


__all__ = ["build", "Builder", "list_array", "lower_expr", "BUILTIN_RELATIONS"]
