"""The built-in functions of tensor logic, as data.

In: nothing.  Out: ``FUNCTIONS``, a table from name to ``FunctionSig``
(arity, kind) that the parser, the checker and the backends share.  Kinds:

- ``elementwise``: applied to each element (``relu``, ``exp``, ``sig``...)
- ``normalize``: normalises along the LHS index marked with a dot (``softmax``, ``lnorm``)
- ``tensor``: reshapes its argument (``concat`` merges the last two axes)
- ``einsum``: a formal einsum over its spec string (``tlang.formal_ir``)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionSig:
    name: str
    min_args: int
    max_args: int | None  # None: variadic
    kind: str = "elementwise"
    doc: str = ""
    kwargs: tuple[str, ...] = ()


_TABLE = [
    FunctionSig("step", 1, 1, doc="Heaviside step: 1 if x > 0 else 0"),
    FunctionSig("sig", 1, 2, doc="sigmoid 1/(1+exp(-x/T)); T = 0 is step(x)"),
    FunctionSig("relu", 1, 1, doc="max(x, 0)"),
    FunctionSig("tanh", 1, 1, doc="hyperbolic tangent"),
    FunctionSig("exp", 1, 1, doc="e^x"),
    FunctionSig("log", 1, 1, doc="natural logarithm"),
    FunctionSig("sqrt", 1, 1, doc="square root"),
    FunctionSig("sin", 1, 1, doc="sine"),
    FunctionSig("cos", 1, 1, doc="cosine"),
    FunctionSig("abs", 1, 1, doc="absolute value"),
    FunctionSig("max", 2, 2, doc="elementwise maximum of two values"),
    FunctionSig("min", 2, 2, doc="elementwise minimum of two values"),
    FunctionSig("randunit", 2, 3, doc="randunit(x, d, Seed): element d of a seeded random unit vector "
                "for row x; its length is the extent of d (tlang/embed.py)"),
    FunctionSig("softmax", 1, 2, "normalize", "softmax along the dotted LHS index (optional temperature)"),
    FunctionSig("lnorm", 1, 1, "normalize", "layer normalisation along the dotted LHS index"),
    FunctionSig("concat", 1, 1, "tensor", "merge the last two axes of its argument into one"),
    FunctionSig("einsum", 1, None, "einsum", "a formal einsum: einsum(\"ij,jk->ik\", A, B, semiring=maxplus); "
                "operands are tensor names or einsum calls (tlang/formal.py)", ("semiring",)),
]

FUNCTIONS: dict[str, FunctionSig] = {f.name: f for f in _TABLE}

def is_function_name(name: str) -> bool:
    """Whether ``name(...)`` in an expression is a call rather than a relation.

    Function names start with a lowercase letter; relations (Boolean tensors)
    are capitalised, as in the paper.
    """
    return name[:1].islower()
