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


def relation_tuples(prog: ir.ProgramIR, name: str, arr: np.ndarray) -> list[tuple]:
    """The true tuples of a Boolean tensor, as constant names (or positions)."""
    info = prog.tensors[name]
    doms = [prog.domains.get(d) for d in info.domains]
    axes = [a for a in range(len(info.shape)) if a != info.virtual_axis]
    out = []
    for pos in zip(*np.nonzero(arr > 0)):
        out.append(tuple(doms[a].label(int(p)) if doms[a] else int(p) for a, p in zip(axes, pos)))
    return out


def write_stores(prog: ir.ProgramIR, results: Results, allowed=()) -> list[Path]:
    written = []
    for st in prog.stores:
        path = tio.resolve_path(st.path, prog.base_dir, allowed)
        arr = results.tensors[st.tensor]
        if prog.tensors[st.tensor].boolean and path.suffix.lower() not in (".npy", ".npz"):
            tio.write_facts(path, relation_tuples(prog, st.tensor, arr))
        else:
            tio.write_dense(path, arr)
        written.append(path)
    return written
