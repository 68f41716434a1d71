"""Reasoning in embedding space: random unit embeddings, the sparse relation-embedding fast path,
the knowledge-base embedder (T = 0 is deduction, T > 0 analogy), the embedding report and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tlang import embed
from tlang import ir_literal as reference
from tlang.api import expand, load_program, run
from tlang.embed_kb import EmbedConfig, embed_program
from tlang.embed_report import embed_report, format_report, parse_dims, plot_report, run_once
from tlang.lower import Labelled

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

KB = """
domain P = {A, B, C, D, E, F}
index x, y, z : P
Edge(A, B), Edge(B, C), Edge(C, D), Edge(D, B), Edge(E, F)
Red(A), Red(C), Red(E)
Big(C), Big(E), Big(F)
Path(x, y) <- Edge(x, y)
Path(x, z) <- Path(x, y), Edge(y, z)
FromA(y) <- Path(A, y)
HasOut(x) <- Edge(x, y)
RedBig(x) <- Red(x), Big(x)
RedToBig(x, y) <- Red(x), Edge(x, y), Big(y)
Loop(x) <- Path(x, x)
Sym(x, y) <- Edge(y, x)
ToD(x) <- Edge(x, D)
NotRed(x) <- Big(x), not Red(x)
"""


def _kb(tmp_path, text=KB):
    p = tmp_path / "kb.tl"
    p.write_text(text)
    prog, base = load_program(p)
    return expand(prog, base), base


# ------------------------------------------------------------ random unit embeddings

def test_randunit_rows_are_seeded_unit_vectors():
    r = run("domain Dim = 64\nindex d : Dim\nEmb[x, d] = randunit(x, d, 3)\nV = [1, 2, 3, 4, 5]\n"
            "S[x] = V[x] Emb[x, 0]\n")
    emb = r.tensors["Emb"]
    assert emb.shape == (5, 64)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    np.testing.assert_array_equal(emb, embed.randunit_rows(5, 64, 3))
    assert not np.allclose(embed.randunit_rows(5, 64, 4), emb)          # another seed, other vectors
    np.testing.assert_array_equal(embed.randunit_rows(200, 64, 3)[:5], emb)  # more objects: same rows
    gram = emb @ emb.T
    assert np.abs(gram - np.eye(5)).max() < 0.6


def test_randunit_agrees_with_reference_and_checks_its_seed():
    src = "domain Dim = 8\nindex d : Dim\nEmb[x, d] = randunit(x, d, 2)\nV = [1, 0, 1]\nS[d] = V[x] Emb[x, d]\n"
    want = reference.run(src)
    got = run(src).tensors
    np.testing.assert_allclose(got["Emb"], want["Emb"])
    np.testing.assert_allclose(got["S"], want["S"])
    from tlang.source import TlangError
    with pytest.raises(TlangError, match="non-negative integer"):
        run("domain Dim = 8\nindex d : Dim\nEmb[x, d] = randunit(x, d, 1.5)\nV = [1, 0]\nS[d] = V[x] Emb[x, d]\n")


def test_prelude_gives_random_embeddings():
    r = run("import embed\ndomain Dim = 512\nR(Alice, Bob)\nR(Bob, Carol)\n"
            "EmbR[i, j] = R(x, y) Emb[x, i] Emb[y, j]\nD[x, y] = EmbR[i, j] Emb[x, i] Emb[y, j]\n"
            "Rec(x, y) = step(D[x, y] - 0.5)\nRec(x, y)?\n")
    assert r.answers[0].tuples == [("Alice", "Bob"), ("Bob", "Carol")]
    np.testing.assert_array_equal(r.tensors["Emb"], embed.randunit_rows(3, 512, 0))


# --------------------------------------------------------------- sparse fast path

def _dense(spec, ops):
    return np.einsum(spec, *[o.array for o in ops])


def test_sparse_contract_equals_the_dense_einsum(monkeypatch):
    monkeypatch.setattr(embed, "SPARSE_MIN_SIZE", 1)
    rng = np.random.default_rng(0)
    taken = 0
    for _ in range(60):
        n, d = int(rng.integers(2, 25)), int(rng.integers(1, 12))
        r = (rng.random((n, n)) < 0.06) * rng.choice([1.0, 2.5], size=(n, n))
        e, f = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        ext = {"x": n, "y": n, "i": d, "j": d}
        cases = [([Labelled(r, ("x", "y")), Labelled(e, ("x", "i")), Labelled(f, ("y", "j"))], ("i", "j"),
                  "xy,xi,yj->ij"),
                 ([Labelled(r, ("x", "y")), Labelled(e, ("y", "i"))], ("x", "i"), "xy,yi->xi"),
                 ([Labelled(e, ("y", "i")), Labelled(r, ("x", "y"))], ("i", "x"), "yi,xy->ix"),
                 ([Labelled(r, ("x", "y")), Labelled(e, ("x", "i")), Labelled(f, ("x", "j"))],
                  ("y", "j", "i"), "xy,xi,xj->yji"),
                 ([Labelled(r, ("x", "y")), Labelled(r, ("y", "x"))], ("x",), "xy,yx->x")]
        for ops, out, spec in cases:
            got = embed.sparse_contract(ops, out, ext)
            if got is not None:
                taken += 1
                np.testing.assert_allclose(got, _dense(spec, ops), atol=1e-12)
    assert taken > 50


def test_relation_embedding_iterates_over_tuples(monkeypatch):
    """EmbR = R(x, y) Emb[x, i] Emb[y, j] on a big sparse R takes the fast path, with the dense result."""
    n, m = 400, 300
    rng = np.random.default_rng(1)
    pairs = {(int(a), int(b)) for a, b in zip(rng.integers(0, n, m), rng.integers(0, n, m))}
    facts = "\n".join(f"R({a}, {b})" for a, b in sorted(pairs))
    src = f"domain Dim = 32\nindex d : Dim\nEmb[x, d] = randunit(x, d, 5)\n{facts}\nR({n - 1}, {n - 1})\n" \
          "EmbR[i, j] = R(x, y) Emb[x, i] Emb[y, j]\n"
    calls = []
    real = embed.sparse_contract

    def spy(ops, out, extents):
        res = real(ops, out, extents)
        calls.append(res is not None)
        return res
    monkeypatch.setattr("tlang.lower.sparse_contract", spy)
    r = run(src)
    assert any(calls)
    e, rel = r.tensors["Emb"], r.tensors["R"]
    np.testing.assert_allclose(r.tensors["EmbR"], e.T @ rel @ e, atol=1e-10)


# ---------------------------------------------------------------- the embedder

def test_family_at_t0_is_exact_deduction():
    prog, base = load_program(EXAMPLES / "family.tl")
    emb, res, settled = run_once(expand(prog, base), base, EmbedConfig(dim=512))
    assert settled and set(emb.relations) == {"Parent", "Sister", "Ancestor", "Aunt"}
    for name, rel in emb.relations.items():
        np.testing.assert_array_equal(res.tensors[rel.soft], res.tensors[name], err_msg=name)
    text = emb.text
    assert "EmbParent[e1, e2] = Parent(o1, o2) Emb[o1, e1] Emb[o2, e2]" in text
    assert "EmbAunt[e1, e2] = EmbSister[e1, e3] EmbParent[e3, e2]" in text
    assert "SoftAncestor[o1, o2] = sig(ScoreAncestor[o1, o2] - 0.5, TAncestor)" in text
    assert "import embed" in text and "domain Dim = 512" in text


def test_every_kind_of_rule_embeds_and_matches_deduction(tmp_path):
    prog, base = _kb(tmp_path)
    emb, res, settled = run_once(prog, base, EmbedConfig(dim=512, seed=1))
    assert settled
    assert set(emb.skipped) == {"NotRed"} and "negation" in emb.skipped["NotRed"]
    assert len(emb.relations) == 11
    for name, rel in emb.relations.items():
        np.testing.assert_array_equal(res.tensors[rel.soft] > 0.5, res.tensors[name] > 0, err_msg=name)


def test_temperature_softens_and_zero_is_a_step(tmp_path):
    prog, base = _kb(tmp_path)
    cfg = EmbedConfig(dim=512, T=0.0, temps={"Red": 0.25})
    emb, res, _ = run_once(prog, base, cfg)
    soft = res.tensors[emb.relations["Red"].soft]
    assert ((soft > 0) & (soft < 1)).all()                       # T > 0: graded
    assert set(np.unique(res.tensors[emb.relations["Big"].soft])) <= {0.0, 1.0}  # T = 0: exactly 0/1
    assert "TRed = 0.25" in emb.text and "TBig = 0" in emb.text


def test_program_own_emb_and_multiple_domains(tmp_path):
    prog, base = _kb(tmp_path, "domain Person = {Ann, Bo}\ndomain City = {Rome, Oslo, Lima}\n"
                     "tensor Lives(Person, City)\nLives(Ann, Rome), Lives(Bo, Lima)\n")
    emb = embed_program(prog, base, EmbedConfig(dim=64))
    assert "EmbPerson[emb_x, emb_d] = randunit(emb_x, emb_d, 0)" in emb.text
    assert "EmbCity" in emb.text and "import embed" not in emb.text
    prog2, base2 = load_program(EXAMPLES / "analogy.tl")
    emb2 = embed_program(expand(prog2, base2), base2, EmbedConfig(dim=64))
    assert emb2.dim is None and "Flies" in emb2.relations     # the program's learned Emb is used
    assert "Has" in emb2.skipped                               # Trait has no embedding


def test_analogy_borrows_inferences_only_at_positive_temperature():
    r = run(EXAMPLES / "analogy.tl")
    flies0, flies1 = r.tensors["Flies0"], r.tensors["Flies1"]
    exact = r.tensors["Flies"]
    np.testing.assert_array_equal(flies0, exact)                 # T = 0: deduction
    tweety = 2
    assert flies1[tweety] > 0.2 and np.delete(flies1, [0, 1, 2]).max() < 0.05
    sim = r.tensors["Sim"]
    assert sim[tweety, 0] > 0.15 and sim[tweety, 3] < 0.1


# --------------------------------------------------------------------- the report

def test_report_error_falls_with_dimension(tmp_path):
    prog, base = load_program(EXAMPLES / "family.tl")
    rep = embed_report(expand(prog, base), base, dims=(8, 32, 512), seeds=2, name="family.tl")
    rates = [r.error_rate for r in rep.rows]
    assert rates[0] > rates[-1] == 0.0 and rates[0] >= rates[1]
    assert rep.sufficient_dim() == 512
    text = format_report(rep)
    assert "error rate" in text and "sufficient: dimension 512" in text
    png = plot_report(rep, tmp_path / "r.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(json.dumps(rep.to_json()))["rows"][0]["dim"] == 8
    with pytest.raises(ValueError):
        parse_dims("16,x")


def test_cli_embed_report(tmp_path):
    src = (EXAMPLES / "family.tl").read_text()
    p = tmp_path / "fam.tl"
    p.write_text(src)
    out = subprocess.run([sys.executable, "-m", "tlang", "embed-report", str(p), "--dims", "8,256",
                          "--seeds", "1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "dim" in out.stdout and "error rate" in out.stdout
    assert (tmp_path / "embed-report.png").exists()
    bad = subprocess.run([sys.executable, "-m", "tlang", "embed-report", str(p), "--dims", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2


def test_program_importing_the_prelude_keeps_it_and_takes_the_dimension(tmp_path):
    prog, base = _kb(tmp_path, "import embed\ndomain Dim = 64\nParent(Al, Bo)\nParent(Bo, Cy)\n"
                     "Anc(x, y) <- Parent(x, y)\nAnc(x, z) <- Anc(x, y), Parent(y, z)\n"
                     "V[x] = Parent(x, y)\nS[d] = V[x] Emb[x, d]\n")
    emb, res, settled = run_once(prog, base, EmbedConfig(dim=256))
    assert "import embed" not in emb.text and "domain Dim = 256" in emb.text
    assert res.tensors["Emb"].shape == (3, 256) and settled
    np.testing.assert_array_equal(res.tensors[emb.relations["Anc"].soft], res.tensors["Anc"])
