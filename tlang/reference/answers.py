"""Queries (docs/language.md section 11): the stored tensors -> one ``Answer`` per query.

In: the model, the stored tensors and a ``Query``.  Out: an ``Answer`` with
the fields of ``tlang.engine.Answer``: ``query`` (the text before ``?``),
``kind`` (``tensor``, ``scalar``, ``relation`` or ``bool``), ``shape``,
``value`` (an array, a float or a bool) or ``vars`` and ``tuples`` (the
bindings of a relation's free variables, as symbol names or integers,
sorted with integers first).  Constants in queries never add positions: an
unknown constant matches nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ast as A
from ..source import TlangCheckError
from .arith import Dense
from .model import Model, slot


@dataclass(frozen=True)
class Answer:
    query: str
    kind: str                       # tensor | scalar | relation | bool
    shape: tuple[int, ...] = ()
    value: Any = None
    vars: tuple[str, ...] = ()
    tuples: list[tuple] = field(default_factory=list)


def answer(model: Model, values: dict[str, Dense], q: A.Query) -> Answer:
    r = q.target
    text = r.span.text() if r.span else r.name
    info = model.tensors.get(r.name)
    if info is None or not info.defined and not info.boolean:
        raise TlangCheckError(f"query of '{r.name}', which is not defined", r.span,
                              ["define it with an equation, facts or data before querying it"])
    t = values[r.name]
    axes = [a for a in range(info.arity or 0) if info.virtual is None or a != info.virtual[0]]
    if r.indices and len(r.indices) != (info.arity or 0):
        raise TlangCheckError(f"'{r.name}' has {info.arity} indices, not {len(r.indices)}", r.span)
    given = [ix for a, ix in enumerate(r.indices) if info.virtual is None or a != info.virtual[0]]
    free: list[str] = []
    extent: dict[str, int] = {}
    label_axis: dict[str, int] = {}
    spots: list[tuple[str, object]] = []   # per stored axis: ('var', name) or ('const', position)
    positions: dict[str, list[int]] = {}
    for k, a in enumerate(axes):
        n = t.shape[k]
        ix = given[k] if given else A.IVar(f"_{k}")
        if isinstance(ix, A.IVar):
            if ix.name not in free:
                free.append(ix.name)
                extent[ix.name] = n
                label_axis[ix.name] = a
            spots.append(("var", ix.name))
        elif isinstance(ix, A.ISlice):
            var = f"_q{a}"
            positions[var] = list(range(*slice(ix.start, ix.stop, ix.step).indices(n)))
            free.append(var)
            extent[var] = len(positions[var])
            label_axis[var] = a
            spots.append(("var", var))
        elif isinstance(ix, A.IConst):
            spots.append(("const", _position(model, r.name, a, ix, n)))
        else:
            raise TlangCheckError("a query index must be a variable, a constant or a slice",
                                  getattr(ix, "span", r.span))
    grid = np.zeros(tuple(extent[v] for v in free))
    for combo in itertools.product(*(range(extent[v]) for v in free)):
        a = dict(zip(free, combo))
        pos = []
        for kind, what in spots:
            if kind == "const":
                pos.append(-1 if what is None else what)
            else:
                pos.append(positions[what][a[what]] if what in positions else a[what])  # type: ignore
        grid[combo] = t.get(pos)
    if info.boolean:
        if not free:
            return Answer(text, "bool", (), bool(grid > 0))
        tuples = []
        for combo in zip(*np.nonzero(grid > 0)):
            tuples.append(tuple(_label(model, r.name, label_axis[v],
                                       positions[v][int(p)] if v in positions else int(p))
                                for v, p in zip(free, combo)))
        tuples.sort(key=lambda tup: tuple((0, x) if isinstance(x, int) else (1, x) for x in tup))
        names = tuple(v if not v.startswith("_") else
                      (model.domains.name_of(slot(r.name, label_axis[v])) or f"x{k + 1}")
                      for k, v in enumerate(free))
        return Answer(text, "relation", grid.shape, None, names, tuples)
    if not free:
        return Answer(text, "scalar", (), float(grid))
    return Answer(text, "tensor", grid.shape, grid)


def _position(model: Model, tensor: str, a: int, ix: A.IConst, n: int) -> int | None:
    if isinstance(ix.value, int):
        return ix.value + n if ix.value < 0 else ix.value
    if not ix.quoted and ix.value in model.int_scalars:
        return model.int_scalars[ix.value]
    return model.domains.position(slot(tensor, a), ix.value)


def _label(model: Model, tensor: str, a: int, p: int) -> str | int:
    table = model.domains.symbols.get(model.domains.find(slot(tensor, a)), [])
    return table[p] if p < len(table) else p
