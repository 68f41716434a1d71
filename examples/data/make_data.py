"""Regenerate the small data files the example programs read.

Run from anywhere: ``python examples/data/make_data.py``.  The seeds are
fixed, so the files (and the expected answers written in the examples'
comments) never change.

- ``image.csv``: a 5 x 5 grey-level image (integers 0-3) for ``cnn.tl``.
- ``linreg_x.csv``, ``linreg_y.csv``: 30 points, y = 2 x1 - 3 x2 + 0.5 + noise
  (``linreg.tl``).
- ``logreg_x.csv``, ``logreg_y.csv``: two Gaussian blobs of 30 points,
  labels 0/1 (``logreg.tl``).
- ``spirals_x.csv``, ``spirals_y.csv``: two interleaved spirals of 40 points
  each, labels 0/1 -- not linearly separable (``spirals.tl``).
- ``circles_x.csv``, ``circles_y.csv``: two concentric rings of 20 points,
  labels +1 (inner) / -1 (outer) (``kernel_learn.tl``).
- ``tucker.csv``: a Boolean relation A(i, j, k) over 6 x 6 x 6 objects made
  from two hidden classes per argument and a 2 x 2 x 2 Boolean core
  (``tucker.tl``).
- ``kg_known.csv``, ``kg_held.csv``, ``kg_heldneg.csv``: a knowledge graph of
  twelve people in three teams, relations Colleague and Manages; known
  facts, held-out true facts, held-out false facts (``link.tl``).
- ``seq_u.csv``, ``seq_y.csv``: 16 sequences of 5 numbers and half their sums
  (``rnn_learn.tl``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 2510


def image() -> np.ndarray:
    rng = np.random.default_rng(SEED)
    return rng.integers(0, 4, size=(5, 5))


def linreg() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 1)
    x = rng.uniform(-1, 1, size=(30, 2))
    y = 2 * x[:, 0] - 3 * x[:, 1] + 0.5 + 0.1 * rng.normal(size=30)
    return x.round(4), y.round(4)


def logreg() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 2)
    a = rng.normal([-1.0, -0.5], 0.6, size=(30, 2))
    b = rng.normal([1.0, 0.8], 0.6, size=(30, 2))
    return np.vstack([a, b]).round(4), np.repeat([0, 1], 30)


def spirals(n: int = 40, turns: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 3)
    r = np.linspace(0.2, 1.0, n)
    t = r * turns * 2 * np.pi
    pts = [np.stack([r * np.cos(t + c * np.pi), r * np.sin(t + c * np.pi)], 1) for c in (0, 1)]
    x = np.vstack(pts) + 0.02 * rng.normal(size=(2 * n, 2))
    return x.round(4), np.repeat([0, 1], n)


def circles() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 4)
    a = rng.uniform(0, 2 * np.pi, 40)
    r = np.repeat([0.5, 1.5], 20) + 0.15 * rng.normal(size=40)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1).round(4), np.repeat([1, -1], 20)


def tucker() -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(SEED + 5)
    cls = [rng.permutation(np.repeat([0, 1], 3)) for _ in range(3)]
    core = np.array([[[1, 0], [0, 1]], [[0, 0], [1, 1]]])
    return [(i, j, k) for i in range(6) for j in range(6) for k in range(6)
            if core[cls[0][i], cls[1][j], cls[2][k]]]


PEOPLE = ["Ann", "Bob", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon", "Kim", "Lea"]


def kg() -> tuple[list, list, list]:
    rng = np.random.default_rng(SEED + 6)
    teams = [PEOPLE[0:4], PEOPLE[4:8], PEOPLE[8:12]]
    facts = [(a, "Colleague", b) for t in teams for a in t for b in t if a != b]
    facts += [(t[0], "Manages", b) for t in teams for b in t[1:]]
    held, subjects = [], set()  # eight facts, at most one per (subject, relation)
    for k in rng.permutation(len(facts)):
        s, r, _ = facts[k]
        if (s, r) not in subjects and len([h for h in held if h[1] == r]) < (6 if r == "Colleague" else 2):
            held.append(facts[k])
            subjects.add((s, r))
    held.sort(key=facts.index)
    known = [f for f in facts if f not in held]
    true = set(facts)
    false = [(a, r, b) for a in PEOPLE for r in ("Colleague", "Manages") for b in PEOPLE
             if (a, r, b) not in true]
    heldneg = [false[k] for k in sorted(rng.choice(len(false), 8, replace=False))]
    return known, held, heldneg


def sequences() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + 7)
    u = rng.uniform(-1, 1, size=(16, 5)).round(3)
    return u, (0.5 * u.sum(1)).round(4)


def _save(name: str, arr, fmt: str = "%g") -> None:
    np.savetxt(HERE / name, np.asarray(arr), fmt=fmt, delimiter=",")


def _facts(name: str, rows) -> None:
    (HERE / name).write_text("".join(",".join(str(c) for c in r) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    _save("image.csv", image(), "%d")
    for name, (x, y) in (("linreg", linreg()), ("logreg", logreg()), ("spirals", spirals()),
                         ("circles", circles())):
        _save(f"{name}_x.csv", x)
        _save(f"{name}_y.csv", y)
    _facts("tucker.csv", tucker())
    for name, rows in zip(("kg_known", "kg_held", "kg_heldneg"), kg()):
        _facts(f"{name}.csv", rows)
    u, y = sequences()
    _save("seq_u.csv", u)
    _save("seq_y.csv", y)


if __name__ == "__main__":
    main()
