"""tlang: tensor logic (Domingos 2025) on a formal einsum core.

The public API.  Names are imported lazily, so ``import tlang`` stays cheap
and optional backends load only when used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "Source": "tlang.source", "Span": "tlang.source", "TlangError": "tlang.source",
    "run": "tlang.api", "Results": "tlang.engine", "Answer": "tlang.engine",
    "compile_program": "tlang.pipeline",
    "minimize": "tlang.learn", "maximize": "tlang.learn",
    "equivalent": "tlang.equiv", "einsum_expr": "tlang.formal",
    "einsum": "tlang.einsum_api", "einsum_path": "tlang.einsum_api",
    # the embedded Python DSL (docs/python.md)
    "Program": "tlang.dsl", "program": "tlang.dsl", "load": "tlang.dsl", "compile": "tlang.dsl",
    "Expr": "tlang.dsl_expr", "Index": "tlang.dsl_expr", "Tensor": "tlang.dsl_expr",
    "Relation": "tlang.dsl_expr", "indices": "tlang.dsl_expr", "tensors": "tlang.dsl_expr",
    "relations": "tlang.dsl_expr", "virtual": "tlang.dsl_expr", "dot": "tlang.dsl_expr",
    "quoted": "tlang.dsl_expr",
    **dict.fromkeys(("call", "step", "sig", "relu", "tanh", "exp", "log", "sqrt", "sin", "cos", "abs",
                     "softmax", "lnorm", "concat"), "tlang.dsl_functions"),
}

__all__ = ["__version__", "parse", "parse_file", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tlang' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


# eager: the submodule tlang.parse would otherwise shadow the function of the same name
from .parse import parse, parse_file  # noqa: E402
