"""Sharded runs equal single-device runs: JAX on 8 simulated CPU devices.

``XLA_FLAGS=--xla_force_host_platform_device_count=8`` must be set before JAX is imported, so the
checks run in one subprocess (``SCRIPT``) that prints one JSON object of named checks; each test
asserts one of them.  Covered: a batched MLP with a summed loss split over its example index
(values, the all-reduced loss, gradients, the actual placement over 8 devices), the transformer
example split over its ``Pos`` domain (a fixpoint inside), Datalog recursion split over a
symbolic domain, ``tlang run --shard``, and the errors for an unknown index and an extent the
mesh cannot divide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax")

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys
import numpy as np
import jax, jax.numpy as jnp
from jax.sharding import Mesh
from tlang import codegen, shard
from tlang.pipeline import compile_program
from tlang.source import TlangError

checks = {"devices": len(jax.devices())}
rng = np.random.RandomState(0)
X, W1, W2 = rng.randn(16, 4).round(2), rng.randn(3, 4).round(2), rng.randn(3).round(2)
src = f'''
X = {X.tolist()}
W1 = {W1.tolist()}
W2 = {W2.tolist()}
T = {list(range(16))}
H[e, h] = relu(W1[h, j] X[e, j])
Y[e] = W2[h] H[e, h]
Loss = (Y[e] - T[e])^2
Loss?
'''
prog = compile_program(src).ir
one = codegen.compile_function(prog, "jax")
split = shard.shard_function(prog, "e")
a, b = one(), split()
checks["mlp_equal"] = all(bool(np.allclose(a[k], b[k], rtol=1e-6, atol=1e-6)) for k in a)
checks["mlp_placed"] = {k: len(b[k].sharding.device_set) for k in ("X", "H", "Y", "Loss")}
checks["mlp_spec"] = str(b["H"].sharding.spec)
g1 = jax.grad(lambda w: one(W1=w)["Loss"])(jnp.asarray(W1))
g2 = jax.jit(jax.grad(lambda w: split(W1=w)["Loss"]))(jnp.asarray(W1))
checks["mlp_grad_equal"] = bool(np.allclose(g1, g2, rtol=1e-5, atol=1e-5))
r1, r2 = codegen.run_generated(prog, "jax"), shard.run_sharded(prog, "e")
checks["answers_equal"] = all(x.query == y.query and bool(np.allclose(x.value, y.value, rtol=1e-6))
                              for x, y in zip(r1.answers, r2.answers)) and len(r1.answers) == 1

for name, index in (("transformer", "Pos"), ("family", "x")):
    p = compile_program(f"examples/{name}.tl").ir
    r1, r2 = codegen.run_generated(p, "jax"), shard.run_sharded(p, index)
    checks[name] = all(bool(np.allclose(r1.tensors[k], r2.tensors[k], rtol=1e-6, atol=1e-6)) for k in r1.tensors)
    checks[name + "_devices"] = len(shard.shard_function(p, index).mesh.devices.flat)

for label, call in (("unknown", lambda: shard.shard_function(prog, "q")),
                    ("uneven", lambda: shard.shard_function(
                        compile_program(src.replace("T = " + str(list(range(16))), "T = " + str(list(range(12))))
                                        .replace(X.tolist().__repr__(), X[:12].tolist().__repr__())).ir,
                        "e", mesh=Mesh(np.array(jax.devices()), ("batch",))))):
    try:
        call()
        checks[label] = "no error"
    except TlangError as err:
        checks[label] = err.message
import contextlib, io
from tlang.cli import main
outs = []
for extra in ([], ["--shard", "e"]):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["run", "examples/mlp.tl", "--backend", "jax", "--json", *extra])
    outs.append((rc, buf.getvalue()))
checks["cli"] = outs[0][0] == outs[1][0] == 0 and outs[0][1] == outs[1][1] and outs[0][1].count("query") == 3
print(json.dumps(checks))
"""


@pytest.fixture(scope="module")
def checks() -> dict:
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    env.pop("TLANG_X64", None)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_eight_devices(checks: dict) -> None:
    assert checks["devices"] == 8


def test_batch_split_equals_single_device(checks: dict) -> None:
    assert checks["mlp_equal"] and checks["answers_equal"]
    assert checks["mlp_placed"] == {"X": 8, "H": 8, "Y": 8, "Loss": 8}   # Loss: replicated
    assert checks["mlp_spec"] in ("P('shard', None)", "PartitionSpec('shard', None)")


def test_gradients_equal_single_device(checks: dict) -> None:
    assert checks["mlp_grad_equal"]


@pytest.mark.parametrize("name, devices", [("transformer", 3), ("family", 5)])
def test_examples_split_equal_single_device(checks: dict, name: str, devices: int) -> None:
    assert checks[name] and checks[name + "_devices"] == devices


def test_cli_shard_option(checks: dict) -> None:
    assert checks["cli"]   # tlang run --backend jax --shard e: the same answers


def test_errors(checks: dict) -> None:
    assert checks["unknown"].startswith("cannot shard over 'q'")
    assert checks["uneven"] == "cannot split 'e' (extent 12) evenly across 8 devices"
