"""A long fuzz campaign (not a test): grammar-aware programs, random text and bytes.

Runs N generated inputs through parse -> build -> evaluate with limits and reports how many
were tried, how many ended in a located TlangError, how many ran clean, and every failure
(any other exception, or an error that renders without 'error:').
Run: python bench/fuzz.py [--examples 5000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hypothesis import strategies as st  # noqa: E402
from test_fuzz_programs import program, run_guarded  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=5000)
    args = ap.parse_args()
    gens = [program(), st.text(max_size=200),
            st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace"))]
    tried = errors = clean = 0
    failures: list[tuple[str, str]] = []
    warnings.simplefilter("ignore")  # hypothesis warns that .example() is for interactive use
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.examples):
            gen = gens[n % len(gens)]
            text = gen.example()
            tried += 1
            try:
                err = run_guarded(text, Path(tmp))
                if err is None:
                    clean += 1
                else:
                    errors += 1
            except Exception:  # anything but a TlangError is a failure
                failures.append((text, traceback.format_exc(limit=3)))
    dt = time.time() - t0
    print(f"inputs tried: {tried}  located errors: {errors}  ran clean: {clean}  "
          f"failures: {len(failures)}  ({dt:.1f} s)")
    for text, tb in failures[:20]:
        print("-" * 60)
        print(repr(text))
        print(tb)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
