"""Index domains: which axes and variables share a symbol table, and the tables (16.10).

In: the equations built so far.  Out: ``Domains``: a union-find over tensor
axes, equation variables, einsum letters and declared domains (joined by
plain and shifted occurrences and by declarations), with the symbol table of
each class: the constants of ``domain`` declarations first, then those
written in the program (statement by statement, left to right), then those
read from files.  Queries add none.  An undefined capitalised constant in a
read and a constant outside a declared domain are located errors (16.9).
"""

from __future__ import annotations

from collections.abc import Callable

from .. import ast as A
from ..source import Span, TlangCheckError
from .model import Domains, Eq, TensorInfo, base_name, did_you_mean, eq_vars, slot, var_key
from .scope import Einsum, EinsumSpec, Ix, IxAffine, IxConst, Read, leaves, walk


class Symbols:
    """Unification and symbol tables (a part of ``program.Builder``)."""

    tensors: dict[str, TensorInfo]
    eqs: list[Eq]
    domains: Domains
    domain_decls: dict[str, A.DomainDecl]
    index_decls: dict[str, tuple[int | str, object]]
    int_scalars: dict[str, int]
    arity: Callable[[str, int, Span | None], None]

    def finish(self) -> None:
        for t in self.tensors.values():
            if t.virtual is not None and t.arity is not None and t.virtual[0] >= t.arity:
                raise TlangCheckError(f"'{t.name}' has no axis {t.virtual[0] + 1}", t.span)
        for eq in self.eqs:
            for name in sorted(eq.reads):
                t = self.tensors[name]
                if not t.defined and not t.boolean:
                    span = next((n.span for n in walk(eq.rhs) if isinstance(n, Read) and n.name == name),
                                eq.span) if eq.rhs is not None else eq.span
                    raise TlangCheckError(f"'{name}' has no value: no data, equation or input defines it",
                                          span, ["give it data (a literal or a file), an equation, or "
                                                 "pass it as an input"])
        self.unify()
        self.register_symbols()

    def unify(self) -> None:
        d = self.domains
        for name in self.domain_decls:
            d.declared[d.find(("dom", name))] = name
        for eq in self.eqs:
            for a, ix in enumerate(eq.lhs):
                self._join(eq, ix, slot(eq.tensor, a))
            for v in eq.data_vars:
                d.find(var_key(eq, v))
            if eq.rhs is not None:
                for lf in leaves(eq.rhs):
                    if isinstance(lf, Read):
                        for a, ix in enumerate(lf.indices):
                            self._join(eq, ix, slot(lf.name, a))
                    elif isinstance(lf, Einsum):
                        self._join_einsum(eq, lf.spec, [("ix", ix) for ix in lf.indices], [0])
            for v in eq_vars(eq):
                dom = self.index_decls.get(base_name(v))
                if dom is not None and isinstance(dom[0], str):
                    d.union(("dom", dom[0]), var_key(eq, v))
        for t in self.tensors.values():
            for a, dim in enumerate(t.decl or ()):
                if isinstance(dim, str):
                    d.union(("dom", dim), slot(t.name, a))
        for root in list(d.declared):
            name = d.declared.pop(root)
            d.declared[d.find(root)] = name

    def _join(self, eq: Eq, ix: Ix, s: tuple) -> None:
        if isinstance(ix, IxAffine) and len(ix.terms) == 1 and ix.terms[0][1] == 1 and not ix.virtual:
            self.domains.union(s, var_key(eq, ix.terms[0][0]))
        else:
            self.domains.find(s)

    def _join_einsum(self, eq: Eq, spec: EinsumSpec, outer: list[tuple[str, object]], uid: list[int]) -> None:
        """Letters of an einsum are local: ('letter', eq, spec, letter) nodes, joined to the axes
        of their operands and, through the output string, to what reads the einsum."""
        me = uid[0]
        uid[0] += 1

        def key(letter: str) -> tuple:
            return ("letter", eq.id, me, letter)
        for letter, (kind, what) in zip(spec.output, outer):
            if kind == "ix":
                assert isinstance(what, Ix)
                if isinstance(what, IxAffine) and (v := what.plain()) is not None:
                    self.domains.union(key(letter), var_key(eq, v))
            else:
                self.domains.union(key(letter), what)  # type: ignore[arg-type]
        for string, op in zip(spec.inputs, spec.operands):
            if isinstance(op, str):
                for a, letter in enumerate(string):
                    self.domains.union(key(letter), slot(op, a))
                self.arity(op, len(string), None)
            else:
                self._join_einsum(eq, op, [("key", key(letter)) for letter in string], uid)

    def register_symbols(self) -> None:
        """16.10: declared constants, then those written in the program (statement by statement,
        left to right), then those read from files; queries add none."""
        d = self.domains
        closed: set[tuple] = set()
        for name, decl in self.domain_decls.items():
            root = d.find(("dom", name))
            closed.add(root)
            for s in decl.symbols or ():
                if s not in d.table(root):
                    d.table(root).append(s)
        defined = {s for decl in self.domain_decls.values() for s in decl.symbols or ()}
        defined |= set(self.int_scalars)
        for eq in self.eqs:
            for c in eq.lhs + [c for p in eq.points for c in p]:
                if isinstance(c, IxConst) and isinstance(c.value, str):
                    defined.add(c.value)

        def add(c: IxConst, s: tuple, read: bool) -> None:
            if not isinstance(c.value, str):
                return
            root = d.find(s)
            tab = d.table(root)
            if c.value in tab:
                return
            if read and not c.quoted and c.value not in defined:
                raise TlangCheckError(f"undefined constant '{c.value}'", c.span,
                                      did_you_mean(c.value, defined) or
                                      ["a constant is defined by a domain declaration, a fact, a "
                                       "file, or a scalar such as L = 2"])
            if root in closed:
                dom = d.name_of(root) or "its domain"
                raise TlangCheckError(f"constant '{c.value}' is not in the domain {dom}", c.span,
                                      did_you_mean(c.value, tab) or [f"{dom} is {{{', '.join(tab)}}}"])
            tab.append(c.value)

        for from_file in (False, True):
            for eq in self.eqs:
                if eq.from_file != from_file:
                    continue
                for a, ix in enumerate(eq.lhs):
                    if isinstance(ix, IxConst):
                        add(ix, slot(eq.tensor, a), read=False)
                for p in eq.points:
                    for a, c in enumerate(p):
                        add(c, slot(eq.tensor, a), read=False)
                if eq.rhs is not None:
                    for lf in leaves(eq.rhs):
                        if isinstance(lf, Read):
                            for a, ix in enumerate(lf.indices):
                                if isinstance(ix, IxConst):
                                    add(ix, slot(lf.name, a), read=True)
        for eq in self.eqs:
            consts: list[tuple[Ix, tuple]] = [(ix, slot(eq.tensor, a)) for a, ix in enumerate(eq.lhs)]
            consts += [(c, slot(eq.tensor, a)) for p in eq.points for a, c in enumerate(p)]
            if eq.rhs is not None:
                consts += [(ix, slot(lf.name, a)) for lf in leaves(eq.rhs) if isinstance(lf, Read)
                           for a, ix in enumerate(lf.indices)]
            for c, s in consts:
                if isinstance(c, IxConst):
                    c.pos = c.value if isinstance(c.value, int) else d.position(s, c.value)
