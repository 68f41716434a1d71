"""Elementwise functions and aggregations on Python floats, with IEEE results; dense storage.

In: Python floats.  Out: Python floats, and ``Dense``, a tensor as a
row-major list of floats (numpy only converts to and from it).  Division by zero gives +-inf or nan,
overflow gives inf, a negative square root or logarithm nan, exactly as IEEE
arithmetic (and numpy) would, instead of Python's exceptions.  These are the
reference interpreter's own definitions of the built-in functions
(docs/language.md section 5); only ``randunit`` is borrowed, because its
definition *is* its random number generator (``tlang.embed``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np

INF = math.inf
NAN = math.nan


class Dense:
    """A dense tensor as a row-major list of Python floats."""

    __slots__ = ("shape", "vals")

    def __init__(self, shape: Sequence[int], vals: list[float] | None = None) -> None:
        self.shape = tuple(shape)
        self.vals = vals if vals is not None else [0.0] * math.prod(self.shape)

    def offset(self, pos: Sequence[int]) -> int | None:
        """The row-major offset of ``pos``, or None when it is outside on some axis."""
        off = 0
        for p, n in zip(pos, self.shape):
            if not 0 <= p < n:
                return None
            off = off * n + p
        return off

    def get(self, pos: Sequence[int]) -> float:
        off = self.offset(pos)
        return 0.0 if off is None else self.vals[off]

    def positions(self) -> Iterator[tuple[int, ...]]:
        """Every position, in row-major order."""
        return itertools.product(*(range(n) for n in self.shape))

    def copy(self) -> Dense:
        return Dense(self.shape, list(self.vals))

    @staticmethod
    def of(arr: object) -> Dense:
        a = np.asarray(arr, dtype=float)
        return Dense(a.shape, [float(x) for x in a.ravel().tolist()])

    def to_numpy(self) -> np.ndarray:
        return np.array(self.vals, dtype=float).reshape(self.shape)


def div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:  # IEEE: x/0 = +-inf, 0/0 = nan
        if a == 0 or math.isnan(a):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == int(y) and int(y) % 2 == 1


def power(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        return -INF if x < 0 and _odd_integer(y) else INF
    except ValueError:  # 0 ** negative is inf; negative ** fraction is nan
        if x == 0 and y < 0:
            return math.copysign(INF, x) if _odd_integer(y) else INF
        return NAN


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def log(x: float) -> float:
    if x > 0:
        return math.log(x)
    return -INF if x == 0 else NAN


def sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else NAN


def step(x: float) -> float:
    """Heaviside: 1 if x > 0, else 0 (so step(0) = 0)."""
    return 1.0 if x > 0 else 0.0


def sig(x: float, t: float = 1.0) -> float:
    """1 / (1 + exp(-x / T)); T = 0 is exactly step(x)."""
    if t == 0:
        return step(x)
    return 1.0 / (1.0 + exp(-div(x, t)))


def relu(x: float) -> float:
    return x if math.isnan(x) else max(x, 0.0)


def _trig(f: Callable[[float], float]) -> Callable[[float], float]:
    def g(x: float) -> float:
        return f(x) if math.isfinite(x) else NAN
    return g


def max2(a: float, b: float) -> float:
    return NAN if math.isnan(a) or math.isnan(b) else max(a, b)


def min2(a: float, b: float) -> float:
    return NAN if math.isnan(a) or math.isnan(b) else min(a, b)


def truth(c: bool) -> float:
    return 1.0 if c else 0.0


# the elementwise built-ins (docs/language.md section 5), by name
def negate(x: float) -> float:
    """``not x``: 1 - x on 0/1 values; other values count as true when positive."""
    return 1.0 - step(x)


ELEMENTWISE: dict[str, Callable[..., float]] = {
    "not": negate,
    "step": step,
    "sig": sig,
    "relu": relu,
    "tanh": math.tanh,
    "exp": exp,
    "log": log,
    "sqrt": sqrt,
    "sin": _trig(math.sin),
    "cos": _trig(math.cos),
    "abs": abs,
    "max": max2,
    "min": min2,
}

# the operators of expressions
BINARY: dict[str, Callable[[float, float], float]] = {
    "/": div,
    "^": power,
    "==": lambda a, b: truth(a == b),
    "!=": lambda a, b: truth(a != b),
    "<": lambda a, b: truth(a < b),
    "<=": lambda a, b: truth(a <= b),
    ">": lambda a, b: truth(a > b),
    ">=": lambda a, b: truth(a >= b),
}


# ------------------------------------------------------------ aggregations

def _fold(f: Callable[[float, float], float], zero: float) -> Callable[[list[float]], float]:
    def agg(xs: list[float]) -> float:
        acc = zero
        for x in xs:
            acc = f(acc, x)
        return acc
    return agg


def _total(xs: list[float]) -> float:
    acc = 0.0
    for x in xs:
        acc += x
    return acc


def _mean(xs: list[float]) -> float:
    return _total(xs) / len(xs) if xs else 0.0


def _logsumexp(xs: list[float]) -> float:
    m = _fold(max2, -INF)(xs)
    m0 = m if math.isfinite(m) else 0.0
    return log(_total([exp(x - m0) for x in xs])) + m0


# the projection operator of an equation -> how it aggregates projected indices;
# an empty aggregate is the operator's zero (0, -inf, +inf, 0)
PROJECT: dict[str, Callable[[list[float]], float]] = {
    "=": _total, "+=": _total, "max=": _fold(max2, -INF), "min=": _fold(min2, INF), "avg=": _mean,
}

# the projection operator -> how equations with the same LHS combine (decision 4.2)
COMBINE: dict[str, Callable[[float, float], float]] = {
    "=": lambda a, b: a + b, "+=": lambda a, b: a + b, "avg=": lambda a, b: a + b,
    "max=": max2, "min=": min2,
}


# the semirings of the formal einsum (docs/einsum.md): plus, times, zero, one
def _and(a: float, b: float) -> float:
    return truth(a > 0 and b > 0)


SEMIRINGS: dict[str, tuple[Callable[[list[float]], float], Callable[[float, float], float]]] = {
    "sumprod": (_total, lambda a, b: a * b),
    "boolean": (lambda xs: truth(any(x > 0 for x in xs)), _and),
    "maxprod": (_fold(max2, -INF), lambda a, b: a * b),
    "minprod": (_fold(min2, INF), lambda a, b: a * b),
    "maxplus": (_fold(max2, -INF), lambda a, b: a + b),
    "minplus": (_fold(min2, INF), lambda a, b: a + b),
    "logsumexp": (_logsumexp, lambda a, b: a + b),
    "avg": (_mean, lambda a, b: a * b),
}
SEMIRING_ONE = {"sumprod": 1.0, "boolean": 1.0, "maxprod": 1.0, "minprod": 1.0, "maxplus": 0.0,
                "minplus": 0.0, "logsumexp": 0.0, "avg": 1.0}


def close(old: float, new: float, tol: float) -> bool:
    """The convergence test of a sweep: |new - old| <= tol (1 + |old|)."""
    if old == new:
        return True
    return abs(new - old) <= tol * (1.0 + abs(old))
