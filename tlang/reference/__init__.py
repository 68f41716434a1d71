"""The reference interpreter: the oracle the test suite compares the compiler against.

In: a tensor-logic program, as text or as a path to a ``.tl`` file, and
optionally input arrays (``run``).  Out: a ``Result``: every tensor as a float
array of its stored shape (a virtual axis is not stored), one ``Answer`` per
query in program order (the fields of ``tlang.engine.Answer``), and the
warnings of docs/language.md 16.2 (divergence, oscillation, no convergence,
a NaN that reaches an answer).

It reads the AST and elaborates everything itself, literally: where each
index is aggregated (``scope.py``, section 7), the extents of axes and
variables (``extents.py``, sections 13, 16.4, 16.6), dependency order,
fixpoints and the loops of virtual indices (``evaluate.py``, 16.1-16.3),
with Python loops over index assignments and Python floats.  Slow, and
meant for tiny inputs.  Training directives are refused.

What it imports, and why: ``tlang.parse`` and ``tlang.ast`` (the syntax),
``tlang.source`` (the error classes), ``tlang.io`` (decoding data files and
resolving their paths), ``tlang.functions`` (the table of function names and
arities) and ``tlang.embed.randunit_element`` (``randunit`` is defined by its
random number generator).  Nothing of the compiler's front end or engine
(build, scope, shapes, assemble, ir, engine, lower, api, ...) is used, so a
front-end bug cannot pass a differential test by being shared; numpy only
converts the results.

Modules, in the order a program goes through them: ``load.py`` (text ->
statements; include, import; directives refused), ``program.py`` with
``forms.py`` and ``domains.py`` (statements -> the ``model.py`` of equations,
index forms, RHS trees and symbol tables), ``scope.py`` (where indices
aggregate), ``extents.py``, ``evaluate.py``, ``answers.py`` (queries);
``arith.py`` holds the functions and aggregations on floats.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .answers import Answer, answer
from .evaluate import Evaluator, stored
from .extents import Loop, Unbounded, solve
from .load import load
from .model import Model
from .program import build_model
from .scope import Read, walk

__all__ = ["run", "Result", "Answer"]


@dataclass
class Result:
    tensors: dict[str, np.ndarray]
    answers: list[Answer]
    warnings: list[str] = field(default_factory=list)


def run(source: str | Path, inputs: dict[str, np.ndarray] | None = None, max_iter: int = 1000,
        tol: float = 1e-9) -> Result:
    """Evaluate a program (text, or a path to a .tl file) by the reference semantics."""
    model = build_model(load(source), inputs)
    warnings: list[str] = []
    lengths: dict[str, int] = {}
    while True:
        try:
            ext = solve(model, lengths)
            break
        except Unbounded as u:  # 16.3: nothing bounds the loop: it runs until its buffers settle
            lengths[u.loop.key] = _loop_length(model, lengths, u.loop, max_iter, tol, warnings)
    ev = Evaluator(model, ext, max_iter, tol)
    values = stored(model, ev.run())
    warnings += ev.warnings
    answers = [answer(model, values, q) for q in model.queries]
    for q, ans in zip(model.queries, answers):
        warnings += _nan_report(model, ev, q.target.name, ans)
    return Result({n: t.to_numpy() for n, t in values.items()}, answers, warnings)


def _loop_length(model: Model, lengths: dict[str, int], loop: Loop, max_iter: int, tol: float,
                 warnings: list[str]) -> int:
    """The number of steps after which the loop's buffers stop changing (16.3, 16.2)."""
    steps = 8
    while True:
        steps = min(steps, max_iter)
        trial = dict(lengths)
        while True:
            try:
                ext = solve(model, {**trial, loop.key: steps})
                break
            except Unbounded as u:  # another unbounded loop: the same trial length
                trial[u.loop.key] = steps
        ev = Evaluator(model, ext, max_iter, tol)
        values = ev.run()
        series = []
        for name in loop.tensors:
            t, k = values[name], model.tensors[name].virtual[0]  # type: ignore[index]
            series.append([[t.get(p[:k] + (time,) + p[k:]) for p in _positions(t.shape, k)]
                           for time in range(t.shape[k])])
        last = min(len(s) for s in series)
        first = max(loop.offset - 1, 0)
        for p in range(first, last):
            if any(not math.isfinite(x) for s in series for x in s[p]):
                warnings.append(f"the loop over {loop.var} diverged: a value is not finite at step "
                                f"{p - loop.offset + 1}")
                return max(p - loop.offset + 1, 1)
            if p > first and all(all(abs(x - y) <= tol * (1 + abs(y)) or x == y
                                     for x, y in zip(s[p], s[p - 1])) for s in series):
                return p - loop.offset + 1
        if steps >= max_iter:
            warnings.append(f"the loop over {loop.var} did not settle within {max_iter} steps")
            return max_iter
        steps *= 2


def _positions(shape: tuple[int, ...], skip: int) -> Iterator[tuple[int, ...]]:
    return itertools.product(*(range(n) for k, n in enumerate(shape) if k != skip))


def _nan_report(model: Model, ev: Evaluator, name: str, ans: Answer) -> list[str]:
    """16.2: a NaN that reaches an answer, with the equation that first produced it."""
    value = ans.value
    if not isinstance(value, np.ndarray | float) or not np.isnan(np.asarray(value)).any():
        return []
    deps, todo = set(), [name]
    while todo:
        t = todo.pop()
        if t in deps:
            continue
        deps.add(t)
        for eq in ev.eqs_of.get(t, []):
            todo.extend(eq.reads)
            if eq.rhs is not None:
                todo.extend(n.name for n in walk(eq.rhs) if isinstance(n, Read))
    for t in ev.order:
        if t in deps and t in ev.nan_origin:
            eq = ev.nan_origin[t]
            where = f" at {eq.span.short()}" if eq.span else ""
            return [f"{ans.query}: the answer is nan; it is first produced by the equation for {t}{where}"]
    return [f"{ans.query}: the answer is nan"]
