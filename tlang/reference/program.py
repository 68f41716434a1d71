"""Statements -> the program model (``model.py``).

In: the located statements of ``load.py`` and the input arrays.  Out: a
``Model``: one ``Eq`` per equation, rule, fact, literal, file and input (in
program order), each with the index forms of its LHS and the placed tree of
its RHS (``forms.py``, ``scope.py``); what is known of each tensor (arity,
Boolean, its virtual axis, declared extents); the symbol tables of the index
domains (``domains.py``); the queries.

Literals and dense files write where their LHS says (16.7), facts and facts
files are points set to 1, a read of a file an earlier statement wrote is a
copy of the tensor written (16.8; the reference writes no files), rules are
Boolean equations whose head variables the body must bind (16.9).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import ast as A
from .. import io as tio
from ..source import Span, TlangCheckError, TlangFileError, TlangShapeError
from .arith import Dense
from .domains import Symbols
from .forms import Ctx, Forms, copy_ix, einsum_names, list_array, plain_var, virtual_text
from .load import Located
from .model import BUILTIN_RELATIONS, Domains, Eq, Model, TensorInfo, did_you_mean
from .scope import Call, Einsum, Ix, IxAffine, IxConst, Node, Read, leaves, place, walk


class Builder(Forms, Symbols):
    def __init__(self, stmts: list[Located], inputs: dict[str, np.ndarray]) -> None:
        self.stmts = stmts
        self.inputs = inputs
        self.tensors: dict[str, TensorInfo] = {}
        self.eqs: list[Eq] = []
        self.queries: list[A.Query] = []
        self.domains = Domains()
        self.domain_decls: dict[str, A.DomainDecl] = {}
        self.index_decls: dict[str, tuple[int | str, Span | None]] = {}
        self.int_scalars: dict[str, int] = {}
        self.written: dict[Path, str] = {}    # files written so far (16.8) -> the tensor
        self.pending: list[Eq] = []           # reads of such files, completed by fill_copies

    def info(self, name: str, span: Span | None = None) -> TensorInfo:
        if name not in self.tensors:
            self.tensors[name] = TensorInfo(name, span=span)
        return self.tensors[name]

    def arity(self, name: str, n: int, span: Span | None) -> None:
        t = self.info(name, span)
        if t.arity is None:
            t.arity = n
        elif t.arity != n:
            raise TlangCheckError(f"'{name}' is used with {n} ind{'ex' if n == 1 else 'ices'} here but "
                                  f"with {t.arity} elsewhere", span,
                                  ["a tensor keeps the same number of indices everywhere"])

    # ------------------------------------------------------------- pass 1
    def scan(self) -> None:
        for k, (st, _) in enumerate(self.stmts):
            if isinstance(st, A.Equation) and not st.lhs.indices and st.op == "=" \
                    and isinstance(st.rhs, A.Num) and float(st.rhs.value).is_integer():
                self.int_scalars[st.lhs.name] = int(st.rhs.value)
            if isinstance(st, A.DomainDecl):
                self.domain_decls[st.name] = st
            elif isinstance(st, A.IndexDecl):
                for n in st.names:
                    self.index_decls[n] = (st.domain, st.span)
            elif isinstance(st, A.TensorDecl):
                t = self.info(st.name, st.span)
                if st.dims:
                    t.decl = st.dims
                    self.arity(st.name, len(st.dims), st.span)
                if st.boolean or st.dtype == "bool":
                    t.boolean = True
            head = st.lhs if isinstance(st, A.Equation) else st.head if isinstance(st, A.Rule) else None
            if head is not None:
                for a, ix in enumerate(head.indices):
                    if isinstance(ix, A.IVirtual):
                        t = self.info(head.name, head.span)
                        if t.virtual is not None and t.virtual[0] != a:
                            raise TlangCheckError(f"'{head.name}' has its virtual index at axis "
                                                  f"{t.virtual[0] + 1} elsewhere", ix.span)
                        if sum(isinstance(j, A.IVirtual) for j in head.indices) > 1:
                            raise TlangCheckError("an equation can have one virtual index", ix.span)
                        t.virtual = (a, ix.name)
                if isinstance(st, A.Rule) or head.boolean:
                    self.info(head.name).boolean = True
            if isinstance(st, A.Fact):
                self.info(st.atom.name, st.span).boolean = True
            if isinstance(st, A.Load) and (st.target.boolean or
                                           Path(st.path).suffix.lower() in (".facts", ".txt")):
                self.info(st.target.name, st.span).boolean = True
            name = A.defined_name(st)
            if name is not None:
                t = self.info(name, st.span)
                t.first_def = min(t.first_def, k)
                t.defined = True

    # ------------------------------------------------------------- statements
    def add(self, eq: Eq) -> Eq:
        eq.id = len(self.eqs)
        self.eqs.append(eq)
        self.arity(eq.tensor, len(eq.lhs) if eq.rank is None else eq.rank, eq.span)
        self.info(eq.tensor).defined = True
        return eq

    def build(self) -> Model:
        self.scan()
        for name, arr in self.inputs.items():
            dense = Dense.of(arr)
            vars_ = [f"_{k}" for k in range(len(dense.shape))]
            self.add(Eq(0, -1, name, "=", [IxAffine(((v, 1),)) for v in vars_], "data", None,
                        data=dense, data_vars=vars_, fixed=True))
            t = self.info(name)
            t.first_def = -1
        for k, (st, base) in enumerate(self.stmts):
            if isinstance(st, A.Equation):
                self.equation(k, st)
            elif isinstance(st, A.Rule):
                self.rule(k, st)
            elif isinstance(st, A.Fact):
                self.fact(k, st)
            elif isinstance(st, A.Load):
                self.load(k, st, base)
            elif isinstance(st, A.Store):
                self.store(st, base)
            elif isinstance(st, A.Query):
                self.queries.append(st)
        self.fill_copies()
        self.finish()
        return Model(self.tensors, self.eqs, self.queries, self.domains, self.domain_decls,
                     self.index_decls, self.int_scalars)

    def _ctx(self, tensor: str, lhs: A.Ref, rhs: tuple[A.Expr, ...]) -> Ctx:
        ordinary: set[str] = set()
        eq_vars: set[str] = set()
        dotted = None
        refs = [lhs] + [n for e in rhs for n in A.walk(e) if isinstance(n, A.Ref)]
        for r in refs:
            for ix in r.indices:
                for n in A.walk(ix):
                    if isinstance(n, A.IVar):
                        ordinary.add(n.name)
                        eq_vars.add(n.name)
                        if n.dot and r is lhs:
                            if dotted is not None and dotted != n.name:
                                raise TlangCheckError("only one left-hand index can carry the "
                                                      "normalisation mark '.'", n.span)
                            dotted = n.name
                    elif isinstance(n, A.IVirtual):
                        eq_vars.add(n.name)
                        if r is lhs:
                            ordinary.add(n.name)
        return Ctx(tensor, ordinary, eq_vars, dotted)

    def equation(self, k: int, st: A.Equation) -> None:
        lhs = st.lhs
        if isinstance(st.rhs, A.ListLit):
            self.literal(k, st, list_array(st.rhs))
            return
        ctx = self._ctx(lhs.name, lhs, (st.rhs,))
        self.expression(k, lhs, st.op, st.rhs, ctx, "equation", st.span)

    def expression(self, k: int, lhs: A.Ref, op: str, rhs: A.Expr, ctx: Ctx, kind: str,
                   span: Span | None) -> Eq:
        loop = next((ix.name for ix in lhs.indices if isinstance(ix, A.IVirtual)), None)
        forms = [self.lhs_ix(lhs, a, ix) for a, ix in enumerate(lhs.indices)]
        whole_einsum = isinstance(rhs, A.Call) and rhs.fn == "einsum"
        tree = self.expr(rhs, ctx)
        if whole_einsum:  # its output string binds the LHS indices by position (docs/einsum.md)
            assert isinstance(tree, Einsum)
            if not lhs.indices:
                forms = [IxAffine(((f"_e{m}", 1),)) for m in range(len(tree.spec.output))]
            if len(forms) != len(tree.spec.output):
                raise TlangShapeError(f"the einsum has {len(tree.spec.output)} output indices but the "
                                      f"left-hand side has {len(forms)}", span)
            tree.indices = [copy_ix(f) for f in forms]
        lhs_vars = {v for f in forms for v in f.vars()}
        rhs_vars = {v for lf in leaves(tree) for v in lf.own_vars()}
        free = [v for f in forms if (v := plain_var(f)) is not None and v not in rhs_vars]
        for s in ctx.slices:  # 16.7: a slice binds an LHS variable the right does not use, in order
            if free:
                s.var = free.pop(0)
            else:
                s.var = f"_s{len(forms)}"
                forms.append(IxAffine(((s.var, 1),)))
                lhs_vars.add(s.var)
        if loop is not None:
            self._check_steps(lhs, loop, tree)
        eq = Eq(0, k, lhs.name, op, forms, kind, span, rhs=tree, loop=loop)
        eq.aggregated = place(tree, lhs_vars, op)
        for n in walk(tree):
            if isinstance(n, Read):
                eq.reads.add(n.name)
            elif isinstance(n, Einsum):
                eq.reads |= einsum_names(n.spec)
            if isinstance(n, Call) and n.fn == "not":
                eq.negated |= {m.name for m in walk(n) if isinstance(m, Read)}
        self.add(eq)
        for n in walk(tree):
            if isinstance(n, Read) and n.name not in BUILTIN_RELATIONS:
                self.arity(n.name, len(n.indices), n.span)
                if n.boolean and not self.info(n.name, n.span).defined:
                    self.info(n.name).boolean = True  # an undefined relation: empty
        return eq

    def _check_steps(self, lhs: A.Ref, loop: str, tree: Node) -> None:
        """16.3: a step reads the previous step (``*t``) or the current one (``*t+1``), no further."""
        c0 = next(ix.offset for ix in lhs.indices if isinstance(ix, A.IVirtual))
        for lf in leaves(tree):
            if isinstance(lf, Read):
                for ix in lf.indices:
                    if isinstance(ix, IxAffine) and ix.virtual and ix.vars() == (loop,) \
                            and not c0 - 1 <= ix.const <= c0:
                        what = "further back than one step" if ix.const < c0 else "a step not yet computed"
                        raise TlangCheckError(f"this reads '{lf.name}' {what}", ix.span or lf.span,
                                              [f"the left-hand side writes {virtual_text(loop, c0)}; read "
                                               f"{virtual_text(loop, c0 - 1)} (the previous step) or "
                                               f"{virtual_text(loop, c0)} (the current one)"])

    def literal(self, k: int, st: A.Equation, dense: Dense) -> None:
        """16.7: constants select, each slice or variable takes the next axis of the literal, the
        literal's remaining axes follow."""
        forms, vars_ = self._data_lhs(st.lhs, dense, st.span)
        fixed = all(isinstance(ix, A.IVar) for ix in st.lhs.indices) and \
            len({ix.name for ix in st.lhs.indices}) == len(st.lhs.indices)
        self.add(Eq(0, k, st.lhs.name, st.op, forms, "data", st.span, data=dense, data_vars=vars_,
                    fixed=fixed))

    def _data_lhs(self, lhs: A.Ref, dense: Dense, span: Span | None) -> tuple[list[Ix], list[str]]:
        forms: list[Ix] = []
        vars_: list[str] = []
        axis = 0
        for a, ix in enumerate(lhs.indices):
            if isinstance(ix, A.IConst):
                forms.append(self.lhs_ix(lhs, a, ix))
                continue
            if axis >= len(dense.shape):
                raise TlangShapeError(f"'{lhs.name}' names more axes than the data has "
                                      f"({len(dense.shape)})", span)
            n = dense.shape[axis]
            v = f"_d{axis}"
            if isinstance(ix, A.IVar):
                forms.append(IxAffine(((v, 1),), span=ix.span))
            elif isinstance(ix, A.ISlice):
                step = ix.step or 1
                if any(b is not None and b < 0 for b in (ix.start, ix.stop)) or step < 0:
                    raise TlangCheckError("a slice on the left of a literal must have non-negative "
                                          "bounds and step", ix.span)
                start = ix.start if ix.start is not None else 0
                if ix.stop is not None and len(range(start, ix.stop, step)) != n:
                    raise TlangShapeError(f"the slice names {len(range(start, ix.stop, step))} positions "
                                          f"but the data has {n}", ix.span)
                forms.append(IxAffine(((v, step),), start, span=ix.span))
            else:
                raise TlangCheckError("data is written through constants, variables or slices",
                                      getattr(ix, "span", span))
            vars_.append(v)
            axis += 1
        for rest in range(axis, len(dense.shape)):
            vars_.append(f"_d{rest}")
            forms.append(IxAffine(((f"_d{rest}", 1),)))
        return forms, vars_

    def rule(self, k: int, st: A.Rule) -> None:
        body = st.body[0]
        for b in st.body[1:]:
            body = A.Binary("*", body, b, span=body.span.merge(b.span) if body.span else b.span)
        bound: set[str] = set()

        def binds(e: A.Expr) -> None:
            if isinstance(e, A.Unary) and e.op == "not":
                return
            if isinstance(e, A.Ref) and e.name not in BUILTIN_RELATIONS:
                for ix in e.indices:
                    bound.update(n.name for n in A.walk(ix) if isinstance(n, A.IVar | A.IVirtual))
            for f in getattr(e, "__dataclass_fields__", {}):
                child = getattr(e, f)
                for c in child if isinstance(child, tuple) else (child,):
                    if isinstance(c, A.Node) and not isinstance(c, A.IVar | A.IConst | A.IBin):
                        binds(c)
        binds(body)
        for ix in st.head.indices:
            for n in A.walk(ix):
                if isinstance(n, A.IVar) and n.name not in bound and n.name not in self.index_decls:
                    raise TlangCheckError(f"variable '{n.name}' of the head is not bound by the body",
                                          n.span, did_you_mean(n.name, bound) or
                                          ["every head variable must occur in a positive body atom"])
        ctx = self._ctx(st.head.name, st.head, (body,))
        self.expression(k, st.head, "=", body, ctx, "rule", st.span)

    def fact(self, k: int, st: A.Fact) -> None:
        point = []
        for ix in st.atom.indices:
            if not isinstance(ix, A.IConst):
                raise TlangCheckError("a fact must be ground (constants only)", ix.span or st.span,
                                      ["lowercase names are variables; write a rule 'Head(x) <- Body(x)' "
                                       "to derive facts"])
            c = self.plain_ix(ix, lhs=True)
            assert isinstance(c, IxConst)
            point.append(c)
        self.add(Eq(0, k, st.atom.name, "=", [], "facts", st.span, points=[point], rank=len(point)))

    def load(self, k: int, st: A.Load, base: Path) -> None:
        target = st.target
        try:
            path = tio.resolve_path(st.path, base)
            if path in self.written:  # 16.8: a file written earlier reads the tensor written
                eq = Eq(len(self.eqs), k, target.name, "=",
                        [self.plain_ix(ix, lhs=True) for ix in target.indices], "equation", st.span,
                        copy_of=self.written[path])
                self.eqs.append(eq)
                self.pending.append(eq)
                return
            ext = path.suffix.lower()
            if ext == ".txt":
                words = tio.read_text(path)
                pts = [[IxConst(p), IxConst(w, True, st.span)] for p, w in enumerate(words)]
                self.add(Eq(0, k, target.name, "=", [], "facts", st.span, points=pts, from_file=True,
                            rank=2))
            elif target.boolean or ext == ".facts":
                rows = tio.read_facts(path)
                arity = len(rows[0]) if rows else len(target.indices)
                if target.indices and len(target.indices) != arity:
                    raise TlangShapeError(f"'{target.name}' has {len(target.indices)} indices but "
                                          f"{st.path} holds {arity} values per row", st.span)
                pts = [[IxConst(v, isinstance(v, str), st.span) for v in row] for row in rows]
                self.add(Eq(0, k, target.name, "=", [], "facts", st.span, points=pts, from_file=True,
                            rank=arity))
            else:
                arr = tio.read_dense(path)
                dense = Dense.of(arr)
                if target.indices and len(target.indices) > len(dense.shape) and \
                        all(isinstance(ix, A.IVar) for ix in target.indices):
                    raise TlangShapeError(f"'{target.name}' has {len(target.indices)} indices but "
                                          f"{st.path} holds a {len(dense.shape)}-dimensional array",
                                          st.span)
                forms, vars_ = self._data_lhs(target, dense, st.span)
                fixed = all(isinstance(ix, A.IVar) for ix in target.indices)
                self.add(Eq(0, k, target.name, "=", forms, "data", st.span, data=dense,
                            data_vars=vars_, fixed=fixed, from_file=True))
        except TlangFileError as e:
            if e.span is not None:
                raise
            raise TlangFileError(e.message, st.span, e.notes) from None

    def store(self, st: A.Store, base: Path) -> None:
        try:
            path = tio.resolve_path(st.path, base)
        except TlangFileError as e:
            raise TlangFileError(e.message, st.span) from None
        self.written[path] = st.source.name
        self.info(st.source.name, st.span)

    def fill_copies(self) -> None:
        """Reads of written files: the target equals the tensor written (16.8)."""
        for eq in self.pending:
            rank = self.tensors[eq.copy_of].arity or 0
            if not eq.lhs:
                eq.lhs = [IxAffine(((f"_c{m}", 1),)) for m in range(rank)]
            if len(eq.lhs) != rank:
                raise TlangShapeError(f"'{eq.tensor}' has {len(eq.lhs)} indices but the file holds "
                                      f"'{eq.copy_of}', which has {rank}", eq.span)
            eq.rhs = Read(eq.copy_of, [copy_ix(f) for f in eq.lhs], span=eq.span)
            eq.reads = {eq.copy_of}
            place(eq.rhs, set(eq.lhs_vars()))
            self.arity(eq.tensor, rank, eq.span)
            self.info(eq.tensor).defined = True


def build_model(stmts: list[Located], inputs: dict[str, np.ndarray] | None = None) -> Model:
    return Builder(stmts, dict(inputs or {})).build()
