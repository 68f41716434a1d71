"""Scale-out: run a program on JAX with one index (e.g. the batch or example index) split across devices.

In: a ``ProgramIR``, the name of an index variable (``e``) or of a domain
(``Pos``), and optionally a ``jax.sharding.Mesh`` or a list of devices.
Out: ``ShardedProgram`` (call it like ``CompiledProgram``: ``f(**inputs) ->
dict``) or ``Results`` from ``run_sharded``.

Every tensor axis over the sharded domain is split across the mesh axis
(the first such axis of a tensor; a tensor with none is replicated), the
generated function is jitted with those input and output shardings, and
XLA's SPMD partitioner places the intermediates and inserts the collectives
(for instance the all-reduce of a loss summed over examples).  The numbers
are the single-device numbers.  Without an explicit mesh, the mesh takes the
largest number of the available devices that divides every sharded extent.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ir
from .codegen import CompiledProgram, check_memory, report_status, to_results
from .engine import Options, Results
from .source import TlangError

MESH_AXIS = "shard"


def sharded_domains(prog: ir.ProgramIR, index: str) -> set[str]:
    """The domains split by ``index``: a domain name, or every domain an index variable ranges over."""
    if index in prog.domains:
        return {index}
    found: set[str] = set()

    def note(tensor: str, indices: tuple[ir.Index, ...]) -> None:
        info = prog.tensors[tensor]
        axes = [a for a in range(len(info.shape)) if a != info.virtual_axis]
        for a, ix in zip(axes, indices):
            if isinstance(ix, ir.IAffine) and ix.is_var() and ix.vars[0] == index:
                found.add(info.domains[a])

    for eq in prog.equations:
        note(eq.lhs, eq.indices)
        for ref in ir.tensors_read(eq.rhs):
            note(ref.tensor, ref.indices)
    if not found:
        raise TlangError(f"cannot shard over '{index}': it is neither a domain nor an index variable "
                         "that indexes a tensor axis", None,
                         [f"domains: {', '.join(sorted(prog.domains)) or 'none'}"])
    return found


def partition_axes(prog: ir.ProgramIR, domains: set[str]) -> dict[str, int | None]:
    """Tensor -> the stored axis split across devices (None: replicated)."""
    out: dict[str, int | None] = {}
    for name, info in prog.tensors.items():
        stored = [d for a, d in enumerate(info.domains) if a != info.virtual_axis]
        out[name] = next((k for k, d in enumerate(stored) if d in domains), None)
    return out


class ShardedProgram(CompiledProgram):
    """A program jitted with one index split across the devices of a mesh."""

    def __init__(self, prog: ir.ProgramIR, index: str, *, mesh: Any = None, devices: list | None = None,
                 x64: bool | None = None, max_iter: int = 1000, tol: float = 1e-9) -> None:
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec
        super().__init__(prog, "jax", x64=x64, jit=False, max_iter=max_iter, tol=tol)
        self.index = index
        self.domains = sharded_domains(prog, index)
        self.axes = partition_axes(prog, self.domains)
        shapes = self.generated.shapes
        extents = {shapes[t][a] for t, a in self.axes.items() if a is not None}
        if mesh is None:
            devs = list(devices if devices is not None else jax.devices())
            n = max(k for k in range(1, len(devs) + 1) if all(e % k == 0 for e in extents))
            mesh = Mesh(np.array(devs[:n]), (MESH_AXIS,))
        axis = mesh.axis_names[0]
        size = math.prod(mesh.devices.shape)
        bad = sorted(e for e in extents if e % size)
        if bad:
            raise TlangError(f"cannot split '{index}' (extent {bad[0]}) evenly across {size} devices", None,
                             ["use a mesh whose size divides the extent, or pass no mesh"])
        self.mesh = mesh

        def sharding(t: str) -> Any:
            a = self.axes[t]
            spec = [None] * len(shapes[t])
            if a is not None:
                spec[a] = axis
            return NamedSharding(mesh, PartitionSpec(*spec))

        replicated = NamedSharding(mesh, PartitionSpec())
        self.shardings = {t: sharding(t) for t in prog.tensors}
        in_shardings = tuple(self.shardings[t] for t in self.inputs) + (
            {k: replicated for k in self.generated.data_keys},)
        out_shardings = (dict(self.shardings), {", ".join(c): replicated for c in self.generated.fixpoints})
        self.function = jax.jit(self.function, in_shardings=in_shardings, out_shardings=out_shardings)


def shard_function(prog: ir.ProgramIR, index: str, **options: Any) -> ShardedProgram:
    """``prog`` as a callable ``f(**inputs) -> dict`` with ``index`` split across devices."""
    return ShardedProgram(prog, index, **options)


def run_sharded(prog: ir.ProgramIR, index: str, options: Options | None = None, *, mesh: Any = None,
                devices: list | None = None) -> Results:
    """Evaluate ``prog`` with ``index`` split across devices; the same ``Results`` as one device."""
    opts = options or Options(backend="jax")
    check_memory(prog, opts.memory_limit)
    sharded = ShardedProgram(prog, index, mesh=mesh, devices=devices, x64=opts.x64,
                             max_iter=opts.max_iter, tol=opts.tol)
    tensors, status = sharded.run()
    report_status(prog, status, opts.max_iter, opts.strict)
    return to_results(prog, tensors, sharded.be)
