"""Extent inference: union-find over tensor axes, index variables and domains.

In: constraints gathered by ``build.py`` (unifications, fixed extents from
data and declarations, lower bounds from constant positions, symbolic
constants, and derived constraints for index arithmetic).  Out: an extent
and a symbol table for every class, or a located ``TlangShapeError`` that
points at both places of a contradiction.

Nodes are hashable keys: ``("slot", tensor, axis)``, ``("var", eq, name)``
and ``("dom", name)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .source import Span, TlangShapeError

Key = tuple


@dataclass
class _Class:
    extent: int | None = None
    why: str = ""
    span: Span | None = None
    at_least: int = 0
    at_least_span: Span | None = None
    symbols: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)  # declared domain names


@dataclass(frozen=True)
class Derived:
    """A derived constraint, solved by iteration once plain extents are known.

    kinds: ``shift`` (var v + const c at a slot of extent N: v gets N, for either sign of c),
    ``conv`` (v + w + c at a slot: v gets N - ext(w) + 1 - c),
    ``div_rhs`` (v/S read at a slot: v gets N*S), ``div_lhs`` (slot of
    ``v/S`` on the LHS gets ceil(ext(v)/S)), ``lhs_shift`` (LHS slot of
    v + c gets ext(v) + c), ``product`` (target gets the product of sources),
    ``slice`` (the fresh variable of a slice gets the slice's length).
    """
    kind: str
    target: Key
    sources: tuple[Key, ...]
    const: int = 0
    span: Span | None = None
    extra: tuple = ()


class ExtentSolver:
    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}
        self.info: dict[Key, _Class] = {}
        self.derived: list[Derived] = []
        # (variable, axis, where, label): an axis of a tensor written in blocks of different sizes
        # holds the variable's range, which may be smaller (docs/language.md 16.6)
        self.soft: list[tuple[Key, Key, Span | None, str | None]] = []

    # union-find ------------------------------------------------------------
    def find(self, k: Key) -> Key:
        if k not in self.parent:
            self.parent[k] = k
            self.info[k] = _Class()
            if k[0] == "dom":
                self.info[k].names.add(k[1])
        root = k
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[k] != root:
            self.parent[k], k = root, self.parent[k]
        return root

    def cls(self, k: Key) -> _Class:
        return self.info[self.find(k)]

    def union(self, a: Key, b: Key, span: Span | None = None, label: str | None = None) -> None:
        """Merge two classes; ``span``/``label`` name the occurrence that links them."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        ca, cb = self.info[ra], self.info[rb]
        if ca.extent is not None and cb.extent is not None and ca.extent != cb.extent:
            if span is not None and label:
                notes = [f"extent {n} comes from {c.why}" + (f" at {c.span.where()}" if c.span else "")
                         for n, c in ((ca.extent, ca), (cb.extent, cb))]
                raise TlangShapeError(f"{label} has extent {ca.extent} on one side and {cb.extent} "
                                      "on the other", span, notes)
            self._conflict(cb.extent, cb.span, cb.why, ca.extent, ca.span, ca.why)
        merged = ca
        if merged.extent is None:
            merged.extent, merged.why, merged.span = cb.extent, cb.why, cb.span
        if cb.at_least > merged.at_least:
            merged.at_least, merged.at_least_span = cb.at_least, cb.at_least_span
        for s in cb.symbols:
            if s not in merged.symbols:
                merged.symbols.append(s)
        merged.names |= cb.names
        self.parent[rb] = ra
        del self.info[rb]

    def _conflict(self, n1, span1, why1, n2, span2, why2) -> None:
        notes = []
        if span2 is not None:
            notes.append(f"extent {n2} comes from {why2} at {span2.where()}")
        elif why2:
            notes.append(f"extent {n2} comes from {why2}")
        raise TlangShapeError(f"extent {n1} ({why1}) contradicts extent {n2} of the same index domain",
                              span1 if span1 is not None else span2, notes)

    # facts -----------------------------------------------------------------
    def fix(self, k: Key, extent: int, span: Span | None, why: str) -> None:
        c = self.cls(k)
        if c.extent is None:
            c.extent, c.span, c.why = extent, span, why
        elif c.extent != extent:
            self._conflict(extent, span, why, c.extent, c.span, c.why)

    def require(self, k: Key, n: int, span: Span | None) -> None:
        """The class must have at least ``n`` positions (a constant position n-1 is used)."""
        c = self.cls(k)
        if n > c.at_least:
            c.at_least, c.at_least_span = n, span

    def symbol(self, k: Key, name: str) -> int:
        c = self.cls(k)
        if name not in c.symbols:
            c.symbols.append(name)
        return c.symbols.index(name)

    def position(self, k: Key, name: str) -> int | None:
        c = self.cls(k)
        return c.symbols.index(name) if name in c.symbols else None

    def derive(self, d: Derived) -> None:
        self.derived.append(d)

    def block(self, var: Key, slot: Key, span: Span | None = None, label: str | None = None) -> None:
        """``var`` indexes ``slot`` of a tensor written in blocks: the axis is at least as large as
        the variable's range (unified outright when ``harden`` finds a symbolic domain)."""
        self.find(var)
        self.find(slot)
        self.soft.append((var, slot, span, label))

    def harden(self) -> None:
        """Blocks of a symbolic domain (constants, declared names) are the whole domain: unified."""
        keep = []
        for var, slot, span, label in self.soft:
            cv, cs = self.cls(var), self.cls(slot)
            if cv.symbols or cs.symbols or cv.names or cs.names:
                self.union(var, slot, span, label)
            else:
                keep.append((var, slot, span, label))
        self.soft = keep

    def _blocks(self) -> bool:
        """Settle block axes from their variables (the largest) and block-only variables from their
        axes; True when something was settled."""
        progress = False
        by_slot: dict[Key, list[Key]] = {}
        for var, slot, _s, _l in self.soft:
            by_slot.setdefault(self.find(slot), []).append(self.find(var))
        for slot, vars_ in by_slot.items():
            c = self.info[slot]
            if c.extent is None:
                known = [self.info[v].extent for v in vars_ if self.info[v].extent is not None]
                if known and len(known) == len(vars_):
                    c.extent, c.why = max(known + [c.at_least]), "its largest block"
                    progress = True
        for var, slot, _s, _l in self.soft:
            cv, cs = self.cls(var), self.cls(slot)
            if cv.extent is None and cs.extent is not None:
                cv.extent, cv.why, cv.span = cs.extent, cs.why, cs.span
                progress = True
        return progress

    def _blocks_fallback(self) -> bool:
        """Block axes whose variables wait on each other: the largest known range settles them."""
        progress = False
        for var, slot, _s, _l in self.soft:
            cs, cv = self.cls(slot), self.cls(var)
            if cs.extent is None and cv.extent is not None:
                others = [self.cls(v).extent for v, s, _a, _b in self.soft if self.find(s) == self.find(slot)]
                cs.extent = max([n for n in others if n is not None] + [cs.at_least])
                cs.why = "its largest block"
                progress = True
        return progress

    def extent(self, k: Key) -> int | None:
        c = self.cls(k)
        return c.extent

    # solving ---------------------------------------------------------------
    def _known(self, k: Key) -> int | None:
        c = self.cls(k)
        if c.extent is not None:
            return c.extent
        return None

    def _value(self, d: Derived) -> int | None:
        ext = [self._known(s) for s in d.sources]
        if any(e is None for e in ext):
            return None
        if d.kind == "shift":  # i+c or i-c: the axis's extent, the same for either sign (16.4)
            return ext[0]
        if d.kind == "conv":
            return max(1, ext[0] - ext[1] + 1 - d.const)
        if d.kind == "div_rhs":
            return ext[0] * d.const
        if d.kind == "div_lhs":
            return math.ceil(ext[0] / d.const)
        if d.kind == "lhs_shift":
            return max(1, ext[0] + d.const)
        if d.kind == "product":
            return math.prod(ext)
        if d.kind == "slice":
            return len(range(*slice(*d.extra).indices(ext[0])))
        raise AssertionError(d.kind)

    def solve(self) -> None:
        """Settle every class: fixed extent, else derived, else the lower bound."""
        pending = list(self.derived)
        blocked = {self.find(s) for _v, s, _a, _b in self.soft}
        while True:
            progress = False
            for late in (False, True):  # an axis written in blocks: its plain blocks before a shifted write
                for d in list(pending):
                    if self._known(d.target) is not None:
                        pending.remove(d)
                        continue
                    if not late and d.kind == "lhs_shift" and self.find(d.target) in blocked:
                        continue
                    v = self._value(d)
                    if v is not None:
                        self.fix(d.target, v, d.span, "index arithmetic")
                        pending.remove(d)
                        progress = True
                if progress or self._blocks():
                    progress = True
                    break
            if progress or self._blocks_fallback():
                continue
            # fall back to lower bounds (constants, symbols) for unsettled classes
            settled = False
            for _root, c in list(self.info.items()):
                if c.extent is None and (c.at_least or c.symbols):
                    c.extent = max(c.at_least, len(c.symbols))
                    c.why = "the constants used with it"
                    c.span = c.at_least_span
                    settled = True
            if not settled:
                break
        for _root, c in self.info.items():
            if c.extent is not None:
                need = max(c.at_least, len(c.symbols))
                if need > c.extent:
                    raise TlangShapeError(
                        f"position {need - 1} is out of range for extent {c.extent}",
                        c.at_least_span, [f"extent {c.extent} comes from {c.why}"
                                          + (f" at {c.span.where()}" if c.span else "")])
