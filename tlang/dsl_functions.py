"""The built-in functions of tensor logic as Python functions of the DSL.

In: DSL expressions or Python numbers.  Out: ``dsl_expr.Expr`` objects whose
node is the ``tlang.ast.Call`` the parser makes for ``relu(x)``, ``sig(x, T)``
and so on (``tl.call(name, ...)`` for any function of ``functions.FUNCTIONS``).
"""

from __future__ import annotations

from typing import Any

from . import ast as A
from .dsl_expr import Expr, as_expr
from .dsl_source import user_span

__all__ = ["call", "step", "sig", "relu", "tanh", "exp", "log", "sqrt", "sin", "cos", "abs", "softmax",
           "lnorm", "concat"]


def call(fn: str, *args: Any, **kwargs: Any) -> Expr:
    """A call of the built-in function ``fn`` (``tl.call("max", a, b)``)."""
    span = user_span()
    return Expr(A.Call(fn, tuple(as_expr(a, span) for a in args),
                       tuple((k, as_expr(v, span)) for k, v in kwargs.items()), span=span))


def step(x: Any) -> Expr:
    """Heaviside step: 1 if x > 0 else 0."""
    return call("step", x)


def sig(x: Any, T: Any = None) -> Expr:
    """Sigmoid ``1/(1+exp(-x/T))``; ``T = 0`` is ``step``."""
    return call("sig", x) if T is None else call("sig", x, T)


def relu(x: Any) -> Expr:
    """``max(x, 0)``."""
    return call("relu", x)


def tanh(x: Any) -> Expr:
    """Hyperbolic tangent."""
    return call("tanh", x)


def exp(x: Any) -> Expr:
    """``e^x``."""
    return call("exp", x)


def log(x: Any) -> Expr:
    """Natural logarithm."""
    return call("log", x)


def sqrt(x: Any) -> Expr:
    """Square root."""
    return call("sqrt", x)


def sin(x: Any) -> Expr:
    """Sine."""
    return call("sin", x)


def cos(x: Any) -> Expr:
    """Cosine."""
    return call("cos", x)


def abs(x: Any) -> Expr:  # noqa: A001 - the language's name
    """Absolute value."""
    return call("abs", x)


def softmax(x: Any, T: Any = None) -> Expr:
    """Softmax along the dotted LHS index (optional temperature ``T``)."""
    return call("softmax", x) if T is None else call("softmax", x, T)


def lnorm(x: Any) -> Expr:
    """Layer normalisation along the dotted LHS index."""
    return call("lnorm", x)


def concat(x: Any) -> Expr:
    """Merge the last two axes of its argument into one."""
    return call("concat", x)
