"""Embed a knowledge base: facts and Datalog rules -> the same reasoning in embedding space.

In: a program (``expand``-ed AST) with facts and rules, its folder, and an
``EmbedConfig`` (dimension, seed, temperatures, re-embedding on or off).
Out: an ``EmbeddedProgram``: the original statements followed by generated
tensor-logic statements, the names generated for each relation and the
relations that could not be embedded (with the reason).  Nothing here
evaluates anything; the engine runs the result like any other program.

For every relation R (a Boolean tensor) with objects embedded by Emb
(``import embed``: random unit rows; or the program's own, e.g. learned,
``Emb``) the generated program has::

    EmbR[e1, e2] = R(o1, o2) Emb[o1, e1] Emb[o2, e2]         # base relation (facts, files)
    ScoreR[o1, o2] = EmbR[e1, e2] Emb[o1, e1] Emb[o2, e2]    # extract: about the number of proofs
    TR = 0                                                   # this relation's temperature
    SoftR[o1, o2] = sig(ScoreR[o1, o2] - 0.5, TR)            # threshold at 1/2 (T = 0: step)
    EmbC[e1, e3] = SoftR[o1, o2] Emb[o1, e1] Emb[o2, e2] EmbB[e2, e3]
                                                 # rule C(x, z) <- R(x, y), B(y, z): R re-embedded

A rule body joins the antecedents' embeddings: a base relation's EmbB, and a
derived relation *re-embedded* after extraction and thresholding,
``SoftR[o..] Emb[o1, e1] ...`` (the paper's ReR[e..], written out so that
the join costs O(N D^2) instead of O(D^3)), so every rule application is
followed by extraction, thresholding and re-embedding (the paper's advice,
in the limit); with ``reembed=False`` bodies join the raw EmbR.  A
variable shared by two body atoms (and not in the head) becomes one shared
embedding index: the dot product of the two embeddings, about 1 for the same
object and about 0 otherwise.  A variable used differently (three times, or
twice and in the head, or once and not in the head) is joined explicitly
over the objects, ``Emb[o, e] ...`` summed over o.  Negation, comparisons,
numeric factors and repeated head variables cannot be embedded; such a
rule's head (and whatever depends on it) is left exact and listed in
``skipped``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import ast as A
from . import ir

DEFAULT_DIM = 256
MAX_EMB_ELEMENTS = 1 << 26   # an embedded relation of arity k holds dim^k numbers
PRELUDE_NAMES = frozenset({"Emb", "Dim", "emb_d", "emb_x"})  # defined by stdlib/embed.tl
_SANITIZE = re.compile(r"[^A-Za-z0-9_]")


@dataclass
class EmbedConfig:
    """How to embed: ``dim`` None keeps the program's ``domain Dim = N`` (else ``DEFAULT_DIM``)."""
    dim: int | None = None
    seed: int = 0
    T: float = 0.0
    temps: dict[str, float] = field(default_factory=dict)  # relation -> temperature
    reembed: bool = True

    def temperature(self, relation: str) -> float:
        return self.temps.get(relation, self.T)


@dataclass(frozen=True)
class EmbeddedRelation:
    """The generated tensors of one relation."""
    name: str
    arity: int
    derived: bool           # defined by rules (else: facts, files or equations)
    rules: int
    emb: str                # EmbR: its embedding
    score: str              # ScoreR[o..]: the extracted scores (about the number of proofs)
    soft: str               # SoftR[o..] = sig(ScoreR - 0.5, TR)
    temp: str               # TR: its temperature
    reembedded: bool        # rule bodies join SoftR re-embedded (else EmbR itself)


@dataclass
class EmbeddedProgram:
    program: A.Program                 # the original statements + the generated ones
    text: str                          # the generated statements
    relations: dict[str, EmbeddedRelation]
    skipped: dict[str, str]            # relation -> why it is not embedded
    dim: int | None                    # None: the program's own Emb decides
    config: EmbedConfig
    emb: dict[str, str] = field(default_factory=dict)  # object domain -> its embedding tensor


class EmbedError(Exception):
    """A rule or relation that cannot be embedded (the message says why)."""


# ------------------------------------------------------------------ names

def _names_in(program: A.Program) -> set[str]:
    used: set[str] = set()
    for node in A.walk(program.statements):
        for attr in ("name", "fn", "module"):
            v = getattr(node, attr, None)
            if isinstance(v, str):
                used.add(v)
        if isinstance(node, A.IndexDecl | A.MarkDecl):
            used.update(node.names)
        if isinstance(node, A.IConst) and isinstance(node.value, str):
            used.add(node.value)
    return used


class _Names:
    def __init__(self, used: set[str]) -> None:
        self.used = set(used)

    def fresh(self, base: str) -> str:
        name = base
        while name in self.used:
            name += "'"
        self.used.add(name)
        return name

    def pool(self, prefix: str) -> list[str]:
        """Variable names prefix1, prefix2, ... that the program does not use."""
        out, k = [], 1
        while len(out) < 64:
            if f"{prefix}{k}" not in self.used:
                out.append(f"{prefix}{k}")
            k += 1
        self.used.update(out)
        return out


def _const(ix: A.IConst) -> str:
    from .fmt import format_index
    return format_index(ix)


# --------------------------------------------------------------- analysis

def _defines(st: A.Stmt) -> str | None:
    if isinstance(st, A.Fact):
        return st.atom.name
    if isinstance(st, A.Load):
        return st.target.name
    if isinstance(st, A.Equation):
        return st.lhs.name
    if isinstance(st, A.Rule):
        return st.head.name
    return None


def _rename(st: A.Stmt, name: str) -> A.Stmt:
    if isinstance(st, A.Fact):
        return dataclasses.replace(st, atom=dataclasses.replace(st.atom, name=name))
    if isinstance(st, A.Load):
        return dataclasses.replace(st, target=dataclasses.replace(st.target, name=name))
    return dataclasses.replace(st, lhs=dataclasses.replace(st.lhs, name=name))


def _check_rule(rule: A.Rule, relations: set[str]) -> None:
    """Raise EmbedError if the rule is not a positive Datalog rule over embeddable atoms."""
    seen: set[str] = set()
    for ix in rule.head.indices:
        if isinstance(ix, A.IVar):
            if ix.name in seen:
                raise EmbedError(f"the head repeats the variable '{ix.name}'")
            seen.add(ix.name)
        elif not isinstance(ix, A.IConst):
            raise EmbedError("the head has an index expression")
    body_vars: set[str] = set()
    for b in rule.body:
        if isinstance(b, A.Unary) and b.op == "not":
            raise EmbedError("negation cannot be embedded")
        if not (isinstance(b, A.Ref) and b.boolean):
            raise EmbedError("only relation atoms can be embedded (no comparisons or numbers)")
        if b.name not in relations:
            raise EmbedError(f"'{b.name}' is not an embedded relation")
        if not b.indices:
            raise EmbedError(f"'{b.name}' has no arguments")
        for ix in b.indices:
            if isinstance(ix, A.IVar):
                body_vars.add(ix.name)
            elif not isinstance(ix, A.IConst):
                raise EmbedError(f"'{b.name}' has an index expression")
    missing = seen - body_vars
    if missing:
        raise EmbedError(f"head variable '{sorted(missing)[0]}' does not occur in the body")


# --------------------------------------------------------------- generator

class _Gen:
    def __init__(self, prog_ir: ir.ProgramIR, names: _Names, emb_of: dict[str, str],
                 rels: dict[str, EmbeddedRelation], config: EmbedConfig, dims: dict[str, int]) -> None:
        self.ir = prog_ir
        self.dims = dims                # embedding tensor -> its dimension
        self.extent = {d: dom.extent for d, dom in prog_ir.domains.items()}
        self.names = names
        self.emb_of = emb_of            # domain -> embedding tensor
        self.rels = rels
        self.config = config
        self.o = names.pool("o")
        self.e = names.pool("e")

    def emb(self, relation: str, axis: int) -> str:
        return self.emb_of[self.ir.tensors[relation].domains[axis]]

    def _ofac(self, emb: str, obj: str, o: str, e: str) -> tuple[str, tuple]:
        """The factor ``Emb[o, e]``: object variable (or constant) ``o``, embedding index ``e``."""
        dim = self.dims[emb]
        if obj is None:  # a constant
            return f"{emb}[{o}, {e}]", ((e, dim),)
        return f"{emb}[{o}, {e}]", ((o, self.extent[obj]), (e, dim))

    def body_atom(self, relation: str, idx: list[str], ov) -> list[tuple[str, tuple]]:
        """The factors embedding one body atom over the embedding indices ``idx``."""
        r = self.rels[relation]
        doms = self.ir.tensors[relation].domains
        if not r.reembedded:
            return [(f"{r.emb}[{', '.join(idx)}]",
                     tuple((i, self.dims[self.emb_of[d]]) for i, d in zip(idx, doms)))]
        # re-embedded after thresholding: SoftR[o..] Emb[o1, i1] ... (the paper's ReR[i..], unbuilt)
        os = [next(ov) for _ in idx]
        out = [(f"{r.soft}[{', '.join(os)}]", tuple((o, self.extent[d]) for o, d in zip(os, doms)))]
        out += [self._ofac(self.emb_of[d], d, o, i) for o, i, d in zip(os, idx, doms)]
        return out

    def embed_base(self, rel: EmbeddedRelation, source: str) -> str:
        """``EmbR[e..] = R(o..) Emb[o1, e1] ...``: one outer product per true tuple."""
        k = rel.arity
        es, os = self.e[:k], self.o[:k]
        factors = [f"{source}({', '.join(os)})"] + [f"{self.emb(rel.name, a)}[{os[a]}, {es[a]}]"
                                                   for a in range(k)]
        return f"{rel.emb}[{', '.join(es)}] = {' '.join(factors)}"

    def embed_rule(self, rule: A.Rule, rel: EmbeddedRelation) -> str:
        ev, ov = iter(self.e), iter(self.o)
        head = rule.head
        head_ix = [next(ev) for _ in head.indices]
        head_var = {ix.name: a for a, ix in enumerate(head.indices) if isinstance(ix, A.IVar)}
        occ: dict[str, list[tuple[int, int]]] = {}
        for k, atom in enumerate(rule.body):
            for a, ix in enumerate(atom.indices):
                if isinstance(ix, A.IVar):
                    occ.setdefault(ix.name, []).append((k, a))
        slot: dict[tuple[int, int], str] = {}
        joins: list[tuple[str, tuple]] = []
        for v, places in occ.items():
            k0, a0 = places[0]
            dom = self.ir.tensors[rule.body[k0].name].domains[a0]
            emb = self.emb_of[dom]
            if v in head_var and len(places) == 1:
                slot[places[0]] = head_ix[head_var[v]]          # passed through to the head
            elif v not in head_var and len(places) == 2:
                shared = next(ev)                                # a dot product: the join on v
                slot[places[0]] = slot[places[1]] = shared
            else:                                                # joined over the objects
                o = next(ov)
                for p in places:
                    slot[p] = next(ev)
                    joins.append(self._ofac(emb, dom, o, slot[p]))
                if v in head_var:
                    joins.append(self._ofac(emb, dom, o, head_ix[head_var[v]]))
        factors: list[tuple[str, tuple]] = []
        for k, atom in enumerate(rule.body):
            idx = []
            for a, ix in enumerate(atom.indices):
                if isinstance(ix, A.IVar):
                    idx.append(slot[(k, a)])
                else:
                    u = next(ev)
                    idx.append(u)
                    joins.append(self._ofac(self.emb(atom.name, a), None, _const(ix), u))
            factors += self.body_atom(atom.name, idx, ov)
        for a, ix in enumerate(head.indices):
            if isinstance(ix, A.IConst):
                joins.append(self._ofac(self.emb(head.name, a), None, _const(ix), head_ix[a]))
        return f"{rel.emb}[{', '.join(head_ix)}] = {_product(factors + joins, head_ix)}"

    def extract(self, rel: EmbeddedRelation) -> list[str]:
        k = rel.arity
        es, os = ", ".join(self.e[:k]), ", ".join(self.o[:k])
        embs = " ".join(f"{self.emb(rel.name, a)}[{self.o[a]}, {self.e[a]}]" for a in range(k))
        from .fmt import format_number
        t = self.config.temperature(rel.name)
        out = [f"{rel.score}[{os}] = {rel.emb}[{es}] {embs}",
               f"{rel.temp} = {format_number(int(t) if float(t).is_integer() else float(t))}",
               f"{rel.soft}[{os}] = sig({rel.score}[{os}] - 0.5, {rel.temp})"]
        return out


def _product(factors: list[tuple[str, tuple]], keep: list[str]) -> str:
    """The join of ``factors`` (text, ((var, size), ...)), parenthesised in the order of a good
    contraction path, so that tensor logic's projection rule (aggregate a variable at the smallest
    subexpression holding all its occurrences) contracts it in that order."""
    import opt_einsum
    if len(factors) < 3:
        return " ".join(t for t, _ in factors)
    sym: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for _, vs in factors:
        for v, n in vs:
            sym.setdefault(v, opt_einsum.get_symbol(len(sym)))
            sizes[v] = n
    terms = ["".join(sym[v] for v, _ in vs) for _, vs in factors]
    out = "".join(sym[v] for v in keep if v in sym)
    shapes = [tuple(n for _, n in vs) for _, vs in factors]
    how = "optimal" if len(factors) <= 6 else "greedy"
    path, _ = opt_einsum.contract_path(",".join(terms) + "->" + out, *shapes, shapes=True, optimize=how)
    exprs = [t for t, _ in factors]
    for step in path:
        picked = [exprs[i] for i in sorted(step)]
        for i in sorted(step, reverse=True):
            exprs.pop(i)
        exprs.append("(" + " ".join(picked) + ")" if len(exprs) else " ".join(picked))
    return exprs[-1]


def _from_prelude(st: A.Stmt) -> bool:
    """Whether a statement was spliced in by ``import embed``."""
    return st.span is not None and Path(st.span.source.name).resolve() == \
        (Path(__file__).parent / "stdlib" / "embed.tl").resolve()


def _domain_label(dom: str) -> str:
    label = _SANITIZE.sub("_", dom)
    return label[:1].upper() + label[1:]


def embed_program(program: A.Program, base_dir: str | Path = ".",
                  config: EmbedConfig | None = None) -> EmbeddedProgram:
    """Generate the embedded version of the program's relations (see the module docstring)."""
    from .build import build
    from .fmt import format_stmt
    from .parse import parse
    from .source import Source
    config = config or EmbedConfig()
    stmts = list(program.statements)
    prog_ir = build(program, base_dir, allow_undefined=True)
    names = _Names(_names_in(program) | set(prog_ir.tensors) | set(prog_ir.domains) | PRELUDE_NAMES)
    rules: dict[str, list[A.Rule]] = {}
    others: dict[str, list[A.Stmt]] = {}
    for st in stmts:
        name = _defines(st)
        if name is None:
            continue
        (rules if isinstance(st, A.Rule) else others).setdefault(name, []).append(st)
    candidates = [n for n, t in prog_ir.tensors.items()
                  if t.boolean and t.shape and (n in rules or n in others)]
    skipped: dict[str, str] = {}
    # the object embeddings: the program's own Emb, or random ones (import embed)
    has_emb = "Emb" in prog_ir.tensors and not prog_ir.tensors["Emb"].boolean and \
        len(prog_ir.tensors["Emb"].shape) == 2 and ("Emb" in others or "Emb" in rules)
    prelude = has_emb and all(_from_prelude(st) for st in others.get("Emb", []) + rules.get("Emb", []))
    user_emb = has_emb and not prelude
    emb_of: dict[str, str] = {}
    header: list[str] = []
    if has_emb:
        emb_of[prog_ir.tensors["Emb"].domains[0]] = "Emb"
    if not user_emb:
        domains: list[str] = []
        for n in candidates:
            for d in prog_ir.tensors[n].domains:
                if d not in domains and d not in emb_of:
                    domains.append(d)
        seed = int(config.seed)
        if len(domains) == 1 and not prelude and not seed:
            emb_of[domains[0]] = "Emb"
            header.append("import embed")
        elif domains:
            if not prelude:
                header.append("index emb_d : Dim")
            for d in domains:
                emb_of[d] = "Emb" if len(domains) == 1 and not prelude else names.fresh("Emb" + _domain_label(d))
                header.append(f"{emb_of[d]}[emb_x, emb_d] = randunit(emb_x, emb_d, {seed})")
    dim: int | None = None
    if not user_emb:
        declared = [s for s in stmts if isinstance(s, A.DomainDecl) and s.name == "Dim"]
        if config.dim is not None or not declared:
            dim = int(config.dim if config.dim is not None else DEFAULT_DIM)
            stmts = [s for s in stmts if s not in declared]
            header.insert(0, f"domain Dim = {dim}")
        else:
            dim = declared[-1].size
    emb_dim = prog_ir.tensors["Emb"].shape[1] if user_emb else dim or DEFAULT_DIM
    for n in candidates:
        doms = [d for d in prog_ir.tensors[n].domains if d not in emb_of]
        k = len(prog_ir.tensors[n].shape)
        if doms:
            skipped[n] = f"its objects ({doms[0]}) have no embedding"
        elif emb_dim ** k > MAX_EMB_ELEMENTS:
            skipped[n] = f"arity {k} at dimension {emb_dim} needs {emb_dim ** k:,} numbers; use a smaller :dim"
    # a relation is embedded if its rules are embeddable and their bodies are embedded
    embedded = {n for n in candidates if n not in skipped}
    changed = True
    while changed:
        changed = False
        for n in sorted(embedded):
            for r in rules.get(n, []):
                try:
                    _check_rule(r, embedded)
                except EmbedError as err:
                    where = f" (rule at {r.span.where()})" if r.span else ""
                    skipped[n] = f"{err}{where}"
                    embedded.discard(n)
                    changed = True
                    break
    in_bodies = {b.name for n in embedded for r in rules.get(n, []) for b in r.body}
    rels: dict[str, EmbeddedRelation] = {}
    for n in candidates:
        if n not in embedded:
            continue
        derived = n in rules
        reembed = derived and config.reembed and n in in_bodies
        rels[n] = EmbeddedRelation(
            n, len(prog_ir.tensors[n].shape), derived, len(rules.get(n, [])),
            names.fresh("Emb" + n), names.fresh("Score" + n), names.fresh("Soft" + n),
            names.fresh("T" + n), reembed)
    dims = {e: emb_dim for e in emb_of.values()}
    gen = _Gen(prog_ir, names, emb_of, rels, config, dims)
    lines = [f"# embedding space: {len(rels)} relations"
             + (f", dimension {dim}" if dim else ", the program's Emb")
             + f", seed {config.seed}"] + header
    for n, rel in rels.items():
        lines.append(f"# {n}: " + (f"{rel.rules} rule{'s' if rel.rules != 1 else ''}" if rel.derived
                                  else "base relation"))
        if not rel.derived:
            lines.append(gen.embed_base(rel, n))
        else:
            if n in others:  # facts (or files) beside the rules: embed them under another name
                base = names.fresh("Base" + n)
                lines += [format_stmt(_rename(s, base)) for s in others[n]]
                lines.append(gen.embed_base(rel, base))
            for r in rules[n]:
                note = " ".join(r.span.text().split()) if r.span else n
                lines.append(f"{gen.embed_rule(r, rel)}   # {note}")
        lines += gen.extract(rel)
    text = "\n".join(lines) + "\n"
    generated = parse(Source("<embed>", text))
    full = A.Program(tuple(stmts) + generated.statements, span=program.span)
    return EmbeddedProgram(full, text, rels, skipped, dim, config, emb_of)


def expand_embedded(emb: EmbeddedProgram, base_dir: str | Path = ".") -> A.Program:
    """The embedded program with ``import embed`` spliced in, ready to build."""
    from .api import expand
    return expand(emb.program, Path(base_dir))
