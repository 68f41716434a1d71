"""Evaluation order: a ``ProgramIR`` -> the steps that compute its tensors (docs/language.md §16).

In: a built (or rewritten) ``ir.ProgramIR``.  Out: a ``Schedule``:

- ``strata``: the strongly connected components of the dependency graph in
  dependency order (each a list of tensor names); the tensors of a
  virtual-index loop form one node, so they land in one component;
- ``steps``: what to run, in order: ``Compute`` (a tensor from its
  equations, once), ``Fixpoint`` (a recursive component: sweeps of its steps
  in program order, each seeing what the earlier ones just wrote --
  Gauss-Seidel -- until a sweep changes nothing) and ``Loop`` (a virtual
  index: per step, ``Advance`` each loop tensor from its step equations in
  dependency order, with inner ``Fixpoint``s where a step is recursive, then
  ``Accumulate`` the equations that run once per step).

Negation through recursion is refused here (``TlangCheckError`` naming the
cycle).  Every executor (the numpy engine, generated code, the literal IR
interpreter) runs this one schedule, so the order is decided in one place.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Union

from . import ir
from .source import TlangCheckError


@dataclass(frozen=True)
class Compute:
    """Compute ``tensor`` from its equations (not the step equations of a loop)."""
    tensor: str


@dataclass(frozen=True)
class Advance:
    """Inside a loop: ``tensor``'s value at this step, from its step equations."""
    tensor: str


@dataclass(frozen=True)
class Accumulate:
    """Inside a loop: combine this step's value of ``tensor``'s per-step equations into it."""
    tensor: str


@dataclass(frozen=True)
class Fixpoint:
    """Sweeps of ``steps`` in order until no element of ``tensors`` changes."""
    steps: tuple[Step, ...]
    tensors: tuple[str, ...]


@dataclass(frozen=True)
class Loop:
    """A virtual index ``var``: ``length`` steps (None: until the buffers stop changing).
    ``buffers`` start from their initial equations, ``accumulators`` from their ordinary ones."""
    var: str
    length: int | None
    buffers: tuple[str, ...]
    accumulators: tuple[str, ...]
    body: tuple[Step, ...]


Step = Union[Compute, Advance, Accumulate, Fixpoint, Loop]


@dataclass(frozen=True)
class Schedule:
    steps: tuple[Step, ...]
    strata: tuple[tuple[str, ...], ...]

    def tensors(self, step: Step) -> tuple[str, ...]:
        """Every tensor a step writes."""
        return tensors_of(step)


def tensors_of(step: Step) -> tuple[str, ...]:
    if isinstance(step, Compute | Advance | Accumulate):
        return (step.tensor,)
    if isinstance(step, Fixpoint):
        return step.tensors
    return step.buffers + step.accumulators


# ------------------------------------------------------------- reads

def reads(eq: ir.Equation) -> list[tuple[str, bool, int | None]]:
    """(tensor, negated, step) for every tensor an equation's RHS reads (``step``: the loop
    step of a virtual read, None for an ordinary one)."""
    out: list[tuple[str, bool, int | None]] = []
    stack: list[tuple[ir.Expr, bool]] = [(eq.rhs, False)]
    while stack:
        x, neg = stack.pop()
        if isinstance(x, ir.Ref):
            out.append((x.tensor, neg, x.step))
            continue
        neg = neg or (isinstance(x, ir.Map) and x.fn == "not")
        stack.extend((c, neg) for c in reversed(ir.children(x)))
    return out


def role(eq: ir.Equation) -> str:
    """'step' (LHS has the virtual index), 'acc' (runs once per step), else 'plain'."""
    if eq.virtual is not None:
        return "step"
    if eq.accumulate is not None:
        return "acc"
    return "plain"


# ------------------------------------------------------------- loops

@dataclass
class _Group:
    var: str
    buffers: list[str]
    accumulators: list[str]


def _groups(prog: ir.ProgramIR) -> list[_Group]:
    """Loop tensors that advance together: those with step equations over one virtual index
    that read each other's steps, and the tensors whose equations run once per step."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    var_of: dict[str, str] = {}
    for eq in prog.equations:
        loop = eq.virtual[0] if eq.virtual is not None else eq.accumulate
        if loop is None:
            continue
        if var_of.setdefault(eq.lhs, loop) != loop:
            raise TlangCheckError(f"'{eq.lhs}' is computed in the loops of two virtual indices "
                                  f"('{var_of[eq.lhs]}' and '{loop}')", eq.span)
        parent.setdefault(eq.lhs, eq.lhs)
    for eq in prog.equations:
        if eq.lhs not in var_of:
            continue
        for t, _, step in reads(eq):
            if step is not None and t in var_of and t != eq.lhs:
                parent.setdefault(t, t)
                a, b = find(eq.lhs), find(t)
                if a != b:
                    parent[a] = b
    first = _first_equation(prog)
    groups: dict[str, _Group] = {}
    for name in sorted(var_of, key=lambda n: first[n]):
        g = groups.setdefault(find(name), _Group(var_of[name], [], []))
        buffered = prog.tensors[name].virtual_axis is not None
        (g.buffers if buffered else g.accumulators).append(name)
    return list(groups.values())


def _first_equation(prog: ir.ProgramIR) -> dict[str, int]:
    first: dict[str, int] = {}
    for k, eq in enumerate(prog.equations):
        first.setdefault(eq.lhs, k)
    for n in prog.tensors:
        first.setdefault(n, len(prog.equations))
    return first


# -------------------------------------------------------------- graph

def _scc(nodes: list[str], edges: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iteratively, dependencies first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            succ = edges.get(v, [])
            if i < len(succ):
                work.append((v, i + 1))
                w = succ[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
    return out


def _cycle(edges: dict[str, list[str]], start: str, via: str, members: set[str]) -> list[str]:
    prev: dict[str, str | None] = {via: None}
    q = deque([via])
    while q:
        v = q.popleft()
        if v == start:
            break
        for w in edges.get(v, []):
            if w in members and w not in prev:
                prev[w] = v
                q.append(w)
    path: list[str] = []
    v: str | None = start
    while v is not None:
        path.append(v)
        v = prev.get(v)
    return [start] + path[::-1]


def _node_name(node: str) -> str:
    return node.split("\0", 1)[0]


def schedule(prog: ir.ProgramIR) -> Schedule:
    """The program's evaluation steps (see the module docstring)."""
    groups = _groups(prog)
    first = _first_equation(prog)
    node_of: dict[str, str] = {t: t for t in prog.tensors}
    members: dict[str, list[str]] = {t: [t] for t in prog.tensors}
    for k, g in enumerate(groups):
        node = f"{g.buffers[0] if g.buffers else g.accumulators[0]}\0loop{k}"
        members[node] = g.buffers + g.accumulators
        for t in members[node]:
            node_of[t] = node
            members.pop(t, None)
    edges: dict[str, list[str]] = {n: [] for n in members}
    negated: dict[str, list[tuple[str, ir.Equation]]] = {}
    defined: set[str] = set()
    for eq in prog.equations:
        defined.add(eq.lhs)
        src = node_of[eq.lhs]
        for t, neg, step in reads(eq):
            dst = node_of.get(t, t)
            if dst not in edges:
                edges[dst] = []
                members.setdefault(dst, [t])
            if step is not None and dst == src:
                continue  # a loop's own steps: ordered inside the loop
            if dst not in edges[src]:
                edges[src].append(dst)
            if neg:
                negated.setdefault(src, []).append((dst, eq))
    order = sorted(edges, key=lambda n: min(first.get(t, len(prog.equations)) for t in members[n]))
    comps = _scc(order, edges)
    steps: list[Step] = []
    strata: list[tuple[str, ...]] = []
    for comp in comps:
        inside = set(comp)
        for v in comp:
            for w, eq in negated.get(v, []):
                if w in inside:
                    cycle = " -> ".join(_node_name(x) for x in _cycle(edges, v, w, inside))
                    raise TlangCheckError(
                        f"negation through recursion: {_node_name(v)} depends negatively on "
                        f"{_node_name(w)}, which depends on {_node_name(v)}", eq.span,
                        [f"cycle: {cycle}", "negation must be stratified: a relation cannot "
                         "depend on the negation of itself"])
        tensors = [t for n in comp for t in members[n]]
        if not any(t in defined for t in tensors):
            continue
        comp = sorted(comp, key=lambda n: min(first[t] for t in members[n]))
        strata.append(tuple(sorted(tensors, key=first.__getitem__)))
        parts = [_loop(prog, groups[int(n.rsplit("loop", 1)[1])], first) if "\0" in n else Compute(n)
                 for n in comp]
        recursive = len(comp) > 1 or comp[0] in edges.get(comp[0], [])
        if recursive:
            steps.append(Fixpoint(tuple(parts), tuple(tensors)))
        else:
            steps.extend(parts)
    return Schedule(tuple(steps), tuple(strata))


def _loop(prog: ir.ProgramIR, g: _Group, first: dict[str, int]) -> Loop:
    """One loop: its length, and per step the buffers in order of their current-step reads."""
    length = None
    cur: dict[str, list[str]] = {t: [] for t in g.buffers}
    for k, eq in enumerate(prog.equations):
        if eq.lhs not in cur and eq.lhs not in g.accumulators:
            continue
        if role(eq) in ("step", "acc"):
            n = prog.var_extents.get((k, g.var))
            if n is not None:
                length = n
        if role(eq) == "step":
            for t, _, step in reads(eq):
                if step == 0 and t in cur and t not in cur[eq.lhs]:
                    cur[eq.lhs].append(t)
    body: list[Step] = []
    for comp in _scc(g.buffers, cur):
        comp = sorted(comp, key=first.__getitem__)
        if len(comp) > 1 or comp[0] in cur[comp[0]]:
            body.append(Fixpoint(tuple(Advance(t) for t in comp), tuple(comp)))
        else:
            body.append(Advance(comp[0]))
    body.extend(Accumulate(t) for t in g.accumulators)
    return Loop(g.var, length, tuple(g.buffers), tuple(g.accumulators), tuple(body))


def strata(prog: ir.ProgramIR) -> list[list[str]]:
    """The strongly connected components in dependency order (tensor names; a loop's tensors
    are one component).  Raises ``TlangCheckError`` if negation goes through a cycle."""
    return [list(c) for c in schedule(prog).strata]


__all__ = ["Schedule", "Compute", "Advance", "Accumulate", "Fixpoint", "Loop", "Step", "schedule",
           "strata", "reads", "role", "tensors_of"]
