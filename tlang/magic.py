"""The ``%%tl`` IPython cell magic: a cell of tensor logic run against the notebook's variables.

In: the text of a cell and the notebook's namespace.  A name the cell reads
but does not define is taken from the namespace when it holds a number (it
becomes the statement ``Name = value``, so ints work as index constants and
divisors), an array (numpy, JAX, CuPy, torch: an input) or a set of tuples (a
relation's facts).  Out: every tensor the cell defines is put back into the
namespace -- a numpy array, a float for a scalar, a set of tuples for a
Boolean relation -- and the answer of each query is printed.

Load it with ``%load_ext tlang.magic``; options: ``%%tl --backend jax``,
``%%tl --quiet`` (no answers printed).  Errors are shown as located
diagnostics (``<tl cell 3>:2:5: error: ...``) without a traceback.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import numpy as np

from . import ast as A
from .functions import FUNCTIONS
from .source import Source, TlangError

__all__ = ["run_cell", "TensorLogicMagics", "load_ipython_extension", "unload_ipython_extension"]


def _defined(stmts: tuple[A.Stmt, ...]) -> list[str]:
    from .dsl import _defines
    out: list[str] = []
    for st in stmts:
        name = _defines(st)
        if name is not None and name not in out:
            out.append(name)
    return out


def _read_names(stmts: tuple[A.Stmt, ...]) -> tuple[list[str], list[str]]:
    """Names the cell reads as tensors, and constant names in indices (maybe integer scalars)."""
    tensors: list[str] = []
    consts: list[str] = []
    for st in stmts:
        nodes = list(A.walk(st))
        index_vars = {n.name for n in nodes if isinstance(n, A.IVar | A.IVirtual)}
        for n in nodes:
            if isinstance(n, A.Ref) or (isinstance(n, A.Name) and n.name not in index_vars
                                        and n.name not in FUNCTIONS):
                if n.name not in tensors:
                    tensors.append(n.name)
            elif isinstance(n, A.IConst) and isinstance(n.value, str) and not n.quoted:
                consts.append(n.value)
    return tensors, consts


def _is_number(v: Any) -> bool:
    return isinstance(v, bool | int | float | np.number)


def _is_array(v: Any) -> bool:
    return hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, type)


def _relation_rows(v: Any) -> bool:
    return isinstance(v, set | frozenset) and all(isinstance(t, tuple | str | int) for t in v)


def run_cell(cell: str, namespace: MutableMapping[str, Any], *, backend: str = "numpy",
             name: str = "<tl cell>", quiet: bool = False, base_dir: str | Path | None = None) -> list[Any]:
    """Run ``cell`` against ``namespace`` (see the module docstring); return the query answers
    (``engine.Answer`` objects)."""
    from .api import expand
    from .build import build
    from .dsl import _fact_rows
    from .dsl_expr import _num_node, _to_host
    from .engine import Options, evaluate
    from .outputs import relation_tuples
    from .parse import parse
    from .pipeline import wants_learning
    from .show import format_answer

    base = Path(base_dir) if base_dir is not None else Path.cwd()
    prog = expand(parse(Source(name, cell)), base)
    defined = _defined(prog.statements)
    tensors, consts = _read_names(prog.statements)
    front: list[A.Stmt] = []
    inputs: dict[str, Any] = {}
    for n in tensors:
        if n in defined or n not in namespace:
            continue
        v = namespace[n]
        if _is_number(v):
            front.append(A.Equation(A.Ref(n), "=", _num_node(v.item() if isinstance(v, np.generic) else v,
                                                             None)))
        elif _is_array(v):
            inputs[n] = _to_host(v) if backend in (None, "numpy") else v
        elif _relation_rows(v):
            front.extend(_fact_rows(n, sorted(v, key=repr), None))
    for n in dict.fromkeys(consts):
        v = namespace.get(n)
        if n not in defined and n not in tensors and isinstance(v, int) and not isinstance(v, bool):
            front.append(A.Equation(A.Ref(n), "=", _num_node(v, None)))
    full = A.Program(tuple(front) + prog.statements, span=prog.span)
    ir_prog = build(full, base, inputs, allow_undefined=wants_learning(full))
    results = evaluate(ir_prog, Options(backend=backend))
    for n in defined:
        if n not in results.tensors:
            continue
        info = ir_prog.tensors[n]
        arr = results.tensors[n]
        if info.boolean:
            namespace[n] = set(relation_tuples(ir_prog, n, arr))
        elif np.ndim(arr) == 0:
            namespace[n] = float(arr)
        else:
            namespace[n] = np.asarray(arr)
    if not quiet:
        for a in results.answers:
            print(format_answer(a))
    return list(results.answers)


try:  # the magic itself needs IPython (the 'notebook' extra); run_cell does not
    from IPython.core.error import UsageError
    from IPython.core.magic import Magics, cell_magic, magics_class
    from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
except ImportError:  # pragma: no cover - exercised only without IPython
    Magics = None

if Magics is not None:
    @magics_class
    class TensorLogicMagics(Magics):
        """``%%tl``: run the cell as tensor logic (see ``tlang.magic``)."""

        @magic_arguments()
        @argument("--backend", default="numpy", help="numpy (default), jax, cupy")
        @argument("-q", "--quiet", action="store_true", help="do not print the answers of queries")
        @cell_magic
        def tl(self, line: str, cell: str) -> None:
            args = parse_argstring(self.tl, line)
            count = getattr(self.shell, "execution_count", None)
            name = f"<tl cell {count}>" if count is not None else "<tl cell>"
            try:
                run_cell(cell, self.shell.user_ns, backend=args.backend, name=name, quiet=args.quiet)
            except TlangError as e:
                raise UsageError(e.render()) from None
else:  # pragma: no cover
    TensorLogicMagics = None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext tlang.magic``."""
    if TensorLogicMagics is None:  # pragma: no cover
        raise ImportError("the %%tl magic needs IPython: pip install 'tlang[notebook]'")
    ipython.register_magics(TensorLogicMagics)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext tlang.magic`` (the magic stays registered until the kernel restarts)."""
