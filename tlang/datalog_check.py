"""Datalog checking: a parsed ``.dl`` program -> ``tlang.ast.Program``.

In: the clauses, declarations and I/O directives ``datalog.py`` parsed, and
the source.  Out: the tensor-logic AST (``TensorDecl``, ``Load``, ``Fact``,
``Rule``, ``Store``/``Query``), after checking arities, constant types,
declarations, safety (every head, negated-atom and comparison variable bound
by a positive atom) and stratification (no negation through recursion), each
a located ``TlangCheckError``.  ``x = t`` is solved by substitution and
``x != "c"`` becomes the negation of a one-fact relation.
"""

from __future__ import annotations

import difflib
from pathlib import PurePath

from . import ast as A
from .datalog import _IO, BASE_TYPES, _Atom, _Clause, _Cmp, _Program, _Term
from .source import Source, Span, TlangCheckError


def check(prog: _Program, src: Source) -> A.Program:
    """The AST of a parsed Datalog program (see the module docstring)."""
    return _Checker(prog, src).run()


class _Checker:
    """Arity, types, declarations, safety and stratification; then the AST."""

    def __init__(self, p: _Program, src: Source) -> None:
        self.p = p
        self.src = src
        self.arity: dict[str, tuple[int, Span]] = {}
        self.kinds: dict[str, list[str | None]] = {}
        self.aux: list[A.Stmt] = []
        self.aux_names: dict[str, str] = {}

    def err(self, msg: str, span: Span | None, *notes: str):
        raise TlangCheckError(msg, span, notes)

    def run(self) -> A.Program:
        p = self.p
        for d in p.decls.values():
            self.arity[d.name] = (len(d.attrs), d.span)
            self.kinds[d.name] = [self.base(t) for _, t in d.attrs]
        strict = bool(p.decls)
        for io in p.ios:
            if io.name not in p.decls and (strict or io.name not in self.used()):
                self.err(f"'.{io.kind}' of relation '{io.name}', which is not declared", io.name_span,
                         *self.suggest(io.name))
        for c in p.clauses:
            for a in c.heads + [b for b in c.body if isinstance(b, _Atom)]:
                self.check_atom(a, strict)
        stmts: list[A.Stmt] = []
        rules = []
        for c in p.clauses:
            if not c.body:
                stmts.append(self.fact(c))
            else:
                rules.extend(self.rule(c))
        self.stratify(rules)
        stmts = self.decls() + self.inputs() + stmts + self.aux + [r for r, _, _ in rules] + self.outputs()
        return A.Program(tuple(stmts), span=Span(self.src, 0, len(self.src.text)))

    def base(self, ty: str) -> str:
        return BASE_TYPES.get(ty) or self.p.types.get(ty, "symbol")

    def used(self) -> set[str]:
        return {a.name for c in self.p.clauses for a in c.heads + [b for b in c.body if isinstance(b, _Atom)]}

    def suggest(self, name: str) -> list[str]:
        close = difflib.get_close_matches(name, list(self.p.decls), n=1)
        return [f"did you mean '{close[0]}'?"] if close else ["declare it with .decl"]

    def check_atom(self, a: _Atom, strict: bool) -> None:
        n = len(a.args)
        if a.name not in self.arity:
            if strict:
                self.err(f"relation '{a.name}' is not declared", a.span, *self.suggest(a.name))
            self.arity[a.name] = (n, a.span)
            self.kinds[a.name] = [None] * n
        m, where = self.arity[a.name]
        if m != n:
            decl = a.name in self.p.decls
            self.err(f"'{a.name}' has {n} argument{'s' * (n != 1)} here but "
                     f"{'is declared with' if decl else 'has'} {m} at {where.short()}", a.span)
        for k, t in enumerate(a.args):
            want = self.kinds[a.name][k]
            got = {"sym": "symbol", "num": "number"}.get(t.kind)
            if want and got and want != got:
                attr = self.p.decls[a.name].attrs[k][0] if a.name in self.p.decls else f"#{k + 1}"
                self.err(f"a {got} constant in attribute '{attr}' of '{a.name}', which holds "
                         f"{want}s", t.span, *(["quote it to make it a symbol: \"" + str(t.value) + "\""]
                                              if got == "number" else []))

    # statements -------------------------------------------------------------
    def ref(self, name: str, terms: list[_Term], span: Span, subst: dict[str, _Term] | None = None
            ) -> A.Ref:
        idx: list[A.IndexExpr] = []
        for t in terms:
            if subst and t.kind in ("var", "wild") and t.value in subst:
                t = subst[t.value]
            if t.kind in ("var", "wild"):
                idx.append(A.IVar(str(t.value), span=t.span))
            else:
                idx.append(A.IConst(t.value, quoted=t.kind == "sym", span=t.span))
        return A.Ref(name, tuple(idx), True, span=span)

    def fact(self, c: _Clause) -> A.Fact:
        h = c.heads[0]
        for t in h.args:
            if t.kind in ("var", "wild"):
                self.err(f"a fact must be ground, but '{t.value if t.kind == 'var' else '_'}' is a "
                         "variable", t.span, "quote names to make them constants: \"alice\"",
                         "or write a rule: head :- body.")
        return A.Fact(self.ref(h.name, h.args, h.span), span=c.span)

    def rule(self, c: _Clause) -> list[tuple[A.Rule, str, list[tuple[str, str, Span]]]]:
        subst = self.equalities(c)
        pos_vars: set[str] = set()
        for b in c.body:
            if isinstance(b, _Atom) and not b.negated:
                for t in b.args:
                    t = subst.get(t.value, t) if t.kind in ("var", "wild") else t
                    if t.kind in ("var", "wild"):
                        pos_vars.add(str(t.value))

        def bound(t: _Term, what: str) -> None:
            t2 = subst.get(t.value, t) if t.kind in ("var", "wild") else t
            if t2.kind == "var" and t2.value not in pos_vars:
                self.err(f"variable '{t.value}' {what} is not bound by a positive atom of the body",
                         t.span, "every variable of the head, of a negated atom and of a comparison "
                         "must occur in a positive (non-negated) body atom")

        for h in c.heads:
            for t in h.args:
                if t.kind == "wild":
                    self.err("'_' cannot appear in a rule head", t.span)
                bound(t, "in the head")
        body: list[A.Expr] = []
        deps: list[tuple[str, str, Span]] = []
        for b in c.body:
            if isinstance(b, _Atom):
                if b.negated:
                    for t in b.args:
                        if t.kind == "var":
                            bound(t, "in a negated atom")
                    body.append(A.Unary("not", self.ref(b.name, b.args, b.span, subst), span=b.span))
                    deps.append((b.name, "neg", b.span))
                else:
                    body.append(self.ref(b.name, b.args, b.span, subst))
                    deps.append((b.name, "pos", b.span))
            else:
                e = self.comparison(b, subst, bound)
                if e is not None:
                    body.append(e)
        if not any(isinstance(b, _Atom) and not b.negated for b in c.body):
            self.err("a rule needs at least one positive atom in its body", c.span)
        if "\x00false" in subst:  # a false equation of constants: the rule derives nothing
            body.append(self.never(c))
        return [(A.Rule(self.ref(h.name, h.args, h.span, subst), tuple(body), span=c.span), h.name, deps)
                for h in c.heads]

    def equalities(self, c: _Clause) -> dict[str, _Term]:
        """``x = y`` and ``x = "c"`` unify: the variable is replaced by the other side."""
        subst: dict[str, _Term] = {}

        def find(t: _Term) -> _Term:
            while t.kind in ("var", "wild") and t.value in subst:
                t = subst[t.value]
            return t

        for b in c.body:
            if isinstance(b, _Cmp) and b.op == "==":
                left, right = find(b.left), find(b.right)
                if left.kind == "var":
                    if not (right.kind == "var" and right.value == left.value):
                        subst[str(left.value)] = right
                elif right.kind == "var":
                    subst[str(right.value)] = left
                elif left.kind == "wild" or right.kind == "wild":
                    continue
                elif left.value != right.value or left.kind != right.kind:
                    subst["\x00false"] = left  # a constant equation that is false: an empty rule
        return {k: find(v) for k, v in subst.items()}

    def comparison(self, b: _Cmp, subst: dict[str, _Term], bound) -> A.Expr | None:
        if b.op == "==":
            return None  # solved by substitution
        terms = []
        for t in (b.left, b.right):
            if t.kind == "wild":
                self.err("'_' cannot appear in a comparison", t.span)
            if t.kind == "var":
                bound(t, "in a comparison")
            terms.append(subst.get(t.value, t) if t.kind == "var" else t)
        left, right = terms
        syms = [t for t in terms if t.kind == "sym"]
        if syms:
            if b.op != "!=":
                self.err("only = and != compare symbols in tlang", b.span,
                         "ordering comparisons (<, <=, >, >=) take numbers")
            if len(syms) == 2:
                return None if left.value != right.value else self.never(b)
            var = left if left.kind == "var" else right
            const = syms[0]
            return A.Unary("not", A.Ref(self.symbol_relation(str(const.value)),
                                        (A.IVar(str(var.value), span=var.span),), True, span=b.span),
                           span=b.span)

        def expr(t: _Term) -> A.Expr:
            return A.Name(str(t.value), span=t.span) if t.kind == "var" else A.Num(int(t.value), span=t.span)

        return A.Binary(b.op, expr(left), expr(right), span=b.span)

    def never(self, b: _Cmp | _Clause) -> A.Expr:
        return A.Binary("!=", A.Num(0, span=b.span), A.Num(0, span=b.span), span=b.span)

    def symbol_relation(self, sym: str) -> str:
        """A one-fact relation holding ``sym``: ``x != "c"`` is ``not _dl_symK(x)``."""
        if sym not in self.aux_names:
            name = f"_dl_sym{len(self.aux_names)}"
            self.aux_names[sym] = name
            self.aux.append(A.Fact(A.Ref(name, (A.IConst(sym, quoted=True),), True)))
        return self.aux_names[sym]

    def stratify(self, rules) -> None:
        graph: dict[str, list[tuple[str, str, Span]]] = {}
        for _rule, head, deps in rules:
            graph.setdefault(head, []).extend(deps)
        comp = _sccs(graph)
        for head, edges in graph.items():
            for dep, kind, span in edges:
                if kind == "neg" and comp.get(dep) is not None and comp.get(dep) == comp.get(head):
                    path = _path(graph, dep, head, comp)
                    self.err(f"negation through recursion: '{head}' depends on the negation of '{dep}', "
                             f"which depends on '{head}'", span,
                             f"cycle: {' -> '.join([head] + path)}",
                             "negation must be stratified: a relation cannot depend on the negation "
                             "of itself")

    # declarations and I/O ----------------------------------------------------
    def decls(self) -> list[A.Stmt]:
        """Every relation is Boolean with its arity; each column gets its own domain, so
        columns share positions (symbol tables) only where variables join them."""
        return [A.TensorDecl(name, tuple(f"{name}.{k}" for k in range(n)), True, span=span)
                for name, (n, span) in self.arity.items()]

    def inputs(self) -> list[A.Stmt]:
        out: list[A.Stmt] = []
        for io in self.p.ios:
            if io.kind != "input":
                continue
            path = self.io_path(io, ".facts")
            n = self.arity[io.name][0]
            target = A.Ref(io.name, tuple(A.IVar(f"_{k}") for k in range(n)), True, span=io.name_span)
            out.append(A.Load(target, path, span=io.span))
        return out

    def outputs(self) -> list[A.Stmt]:
        out: list[A.Stmt] = []
        for io in self.p.ios:
            if io.kind != "output":
                continue
            d = self.p.decls.get(io.name)
            if io.params.get("IO") == "stdout":
                names = [a for a, _ in d.attrs] if d else [f"x{k}" for k in range(self.arity[io.name][0])]
                idx = tuple(A.IVar(a) for a in names)
                out.append(A.Query(A.Ref(io.name, idx, True, span=io.name_span), span=io.span))
                continue
            path = self.io_path(io, ".csv")
            out.append(A.Store(path, A.Ref(io.name, (), True, span=io.name_span), span=io.span))
        return out

    def io_path(self, io: _IO, ext: str) -> str:
        known = {"IO", "filename", "delimiter", "file"}
        for key in io.params:
            if key not in known:
                self.err(f"'.{io.kind}' parameter '{key}' is not supported by tlang", io.span,
                         "tlang reads filename=, IO=file|stdout and delimiter=")
        kind = io.params.get("IO", "file")
        if kind not in ("file", "stdout") or (kind == "stdout" and io.kind == "input"):
            self.err(f"IO={kind} is not supported for .{io.kind}", io.span)
        path = io.params.get("filename") or io.params.get("file") or f"{io.name}{ext}"
        delim = io.params.get("delimiter")
        if delim is not None:
            want = {"\t": (".facts", ".tsv", ".tab"), "\\t": (".facts", ".tsv", ".tab"), ",": (".csv",)}
            suffix = PurePath(path).suffix.lower()
            if delim not in want or suffix not in want[delim]:
                self.err(f"delimiter {delim!r} does not match file type {suffix or '(none)'}", io.span,
                         "tlang takes the delimiter from the extension: tab for .facts/.tsv/.tab, "
                         "comma for .csv")
        return path


def _sccs(graph: dict[str, list]) -> dict[str, int]:
    """Strongly connected component id of each node (iterative Tarjan)."""
    nodes = set(graph) | {d for es in graph.values() for d, _, _ in es}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    comp: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(graph.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w, _, _ in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(graph.get(w, []))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp[w] = index[v]
                    if w == v:
                        break
    return comp


def _path(graph, start: str, goal: str, comp: dict[str, int]) -> list[str]:
    """Nodes from ``start`` to ``goal`` along dependencies inside one component."""
    from collections import deque
    prev = {start: None}
    q = deque([start])
    while q:
        v = q.popleft()
        if v == goal:
            break
        for w, _, _ in graph.get(v, []):
            if w not in prev and comp.get(w) == comp.get(start):
                prev[w] = v
                q.append(w)
    out = []
    v = goal
    while v is not None:
        out.append(v)
        v = prev.get(v)
    return out[::-1]


