"""Output files: ``"out.csv" = Y`` statements, written after a run.

In: a ``ProgramIR`` and its ``Results``.  Out: files written atomically
(Boolean relations as facts with constant names, numeric tensors as dense
arrays), paths confined to the program's folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io as tio
from . import ir
from .engine import Results
from .source import TlangFileError


def relation_tuples(prog: ir.ProgramIR, name: str, arr) -> list[tuple]:
    """The true tuples of a Boolean tensor (a dense array or a sparse ``Relation``), as
    constant names (``str``) or positions (Python ``int``), in lexicographic order of positions."""
    from .relational import Relation
    info = prog.tensors[name]
    doms = [prog.domains.get(d) for d in info.domains]
    axes = [a for a in range(len(info.shape)) if a != info.virtual_axis]
    if isinstance(arr, Relation):
        cols = [c.tolist() for c in arr.cols] if arr.shape else []
        if not arr.shape:
            return [()] * min(len(arr), 1)
    else:
        arr = np.asarray(arr)
        if arr.ndim == 0:
            return [()] if arr > 0 else []
        cols = [c.tolist() for c in np.nonzero(arr > 0)]
    labelled = []
    for a, col in zip(axes, cols):
        d = doms[a]
        labelled.append([d.label(p) for p in col] if d is not None and d.symbols else col)
    return list(zip(*labelled))


def store_paths(prog: ir.ProgramIR, allowed=()) -> list[Path]:
    """The resolved path of each ``"out.csv" = Y``; a refused path is an error located at its
    statement (``tlang run`` calls this before running, so a bad path costs no computation)."""
    out = []
    for st in prog.stores:
        try:
            out.append(tio.resolve_path(st.path, prog.base_dir, allowed))
        except TlangFileError as e:
            if e.span is not None or st.span is None:
                raise
            raise TlangFileError(e.message, st.span, e.notes) from None
    return out


def write_stores(prog: ir.ProgramIR, results: Results, allowed=()) -> list[Path]:
    written = []
    for st, path in zip(prog.stores, store_paths(prog, allowed)):
        arr = results.tensors[st.tensor]
        if prog.tensors[st.tensor].boolean and path.suffix.lower() not in (".npy", ".npz"):
            tio.write_facts(path, relation_tuples(prog, st.tensor, arr))
        else:
            tio.write_dense(path, arr)
        written.append(path)
    return written
