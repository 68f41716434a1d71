"""Tests for tlang.io: data files, confinement, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tlang.io import (
    FORMATS,
    Format,
    read_dense,
    read_facts,
    read_text,
    resolve_path,
    write_dense,
    write_facts,
)
from tlang.source import TlangError, TlangFileError


def put(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def error_text(fn, *args) -> str:
    with pytest.raises(TlangFileError) as info:
        fn(*args)
    assert isinstance(info.value, TlangError)
    return info.value.message


# ---------------------------------------------------------------- formats table

def test_formats_table():
    assert FORMATS[".csv"] == Format("table", ",", dense=True, facts=True)
    assert FORMATS[".facts"].delimiter == "\t" and not FORMATS[".facts"].dense
    assert FORMATS[".tab"].delimiter == FORMATS[".tsv"].delimiter == "\t"
    assert FORMATS[".npz"].kind == "npz" and FORMATS[".txt"].kind == "text"


def test_unknown_extension(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "x.json", "[1]"))
    assert "x.json" in msg and "unknown file type '.json'" in msg and ".csv" in msg


def test_wrong_use_of_format(tmp_path):
    assert "cannot hold facts" in error_text(read_facts, tmp_path / "x.npy")
    assert "cannot hold a dense tensor" in error_text(read_dense, put(tmp_path / "x.txt", "a b"))
    assert "cannot hold a dense tensor" in error_text(write_dense, tmp_path / "x.facts", [1])


# ---------------------------------------------------------------- dense: reading

def test_csv_matrix(tmp_path):
    a = read_dense(put(tmp_path / "m.csv", "1,2,3\n4, 5.5 ,-6e1\n"))
    assert a.dtype == np.float64
    np.testing.assert_array_equal(a, [[1, 2, 3], [4, 5.5, -60]])


def test_uppercase_extension_and_crlf(tmp_path):
    a = read_dense(put(tmp_path / "m.CSV", "1,2\r\n3,4\r\n"))
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])


def test_single_column_is_vector(tmp_path):
    a = read_dense(put(tmp_path / "v.csv", "1\n2\n3\n"))
    assert a.shape == (3,)
    assert read_dense(put(tmp_path / "r.csv", "1,2,3\n")).shape == (1, 3)


def test_tsv_and_tab(tmp_path):
    for ext in (".tsv", ".tab"):
        a = read_dense(put(tmp_path / f"m{ext}", "1\t2\n3\t4\n"))
        np.testing.assert_array_equal(a, [[1, 2], [3, 4]])


def test_header_row_skipped(tmp_path):
    a = read_dense(put(tmp_path / "h.csv", "x,y\n1,2\n3,4\n"))
    np.testing.assert_array_equal(a, [[1, 2], [3, 4]])
    assert read_dense(put(tmp_path / "only.csv", "x,y,z\n")).shape == (0, 3)


def test_header_must_match_width(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "h.csv", "x,y\n1,2,3\n"))
    assert "h.csv:2:" in msg and "row has 3 values, expected 2" in msg


def test_mixed_first_row_is_data(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "d.csv", "x,1\n2,3\n"))
    assert "d.csv:1:" in msg and "'x'" in msg


def test_comments_and_blank_lines(tmp_path):
    text = "# weights\n\n1,2\n  # indented comment\n\n3,4\n"
    np.testing.assert_array_equal(read_dense(put(tmp_path / "c.csv", text)), [[1, 2], [3, 4]])


def test_ragged_csv_names_file_and_line(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "file.csv", "1,2,3\n4,5,6\n7,8\n"))
    assert "file.csv:3:" in msg
    assert "row has 2 values, expected 3" in msg


def test_ragged_line_numbers_count_comments(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "file.csv", "# c\n1,2\n\n3\n"))
    assert "file.csv:4:" in msg


def test_non_numeric_cell(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "data.csv", "1,2\n3,abc\n"))
    assert "data.csv:2:" in msg and "'abc'" in msg and "column 2" in msg and "not a number" in msg


def test_empty_cell(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "data.csv", "1,2\n3,\n"))
    assert "data.csv:2:" in msg and "empty cell in column 2" in msg


def test_nan_and_inf(tmp_path):
    a = read_dense(put(tmp_path / "n.csv", "nan,inf\n-inf,NaN\n+Infinity,1\n"))
    assert np.isnan(a[0, 0]) and np.isnan(a[1, 1])
    assert a[0, 1] == np.inf and a[1, 0] == -np.inf and a[2, 0] == np.inf


def test_empty_dense_file(tmp_path):
    a = read_dense(put(tmp_path / "e.csv", ""))
    assert a.shape == (0,) and a.dtype == np.float64
    assert read_dense(put(tmp_path / "c.csv", "# nothing\n\n")).shape == (0,)


def test_missing_file(tmp_path):
    assert "no such file" in error_text(read_dense, tmp_path / "nope.csv")
    assert "no such file" in error_text(read_dense, tmp_path / "nope.npy")
    assert "no such file" in error_text(read_text, tmp_path / "nope.txt")


def test_folder_is_not_a_file(tmp_path):
    (tmp_path / "d.csv").mkdir()
    assert "is a folder" in error_text(read_dense, tmp_path / "d.csv")


def test_not_utf8(tmp_path):
    p = tmp_path / "b.csv"
    p.write_bytes(b"1,2\n3,\xff\n")
    assert "b.csv:2:" in error_text(read_dense, p)


def test_unclosed_quote(tmp_path):
    msg = error_text(read_dense, put(tmp_path / "q.csv", '1,2\n3,"4\n'))
    assert "q.csv:2:" in msg and "not closed" in msg


def test_npy_keeps_dtype(tmp_path):
    np.save(tmp_path / "i.npy", np.arange(6, dtype=np.int32).reshape(2, 3))
    a = read_dense(tmp_path / "i.npy")
    assert a.dtype == np.int32 and a.shape == (2, 3)


def test_object_npy_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    msg = error_text(read_dense, tmp_path / "o.npy")
    assert "o.npy" in msg and "object" in msg


def test_string_npy_refused(tmp_path):
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    assert "not numbers" in error_text(read_dense, tmp_path / "s.npy")


def test_corrupt_npy(tmp_path):
    (tmp_path / "c.npy").write_bytes(b"\x93NUMPY garbage")
    assert "not a valid numpy file" in error_text(read_dense, tmp_path / "c.npy")
    (tmp_path / "c.npz").write_bytes(b"PK\x03\x04 not a zip")
    assert "c.npz" in error_text(read_dense, tmp_path / "c.npz")


def test_npz_one_array(tmp_path):
    np.savez(tmp_path / "one.npz", w=np.eye(2))
    np.testing.assert_array_equal(read_dense(tmp_path / "one.npz"), np.eye(2))


def test_npz_two_arrays_refused(tmp_path):
    np.savez(tmp_path / "two.npz", w=np.eye(2), b=np.zeros(2))
    msg = error_text(read_dense, tmp_path / "two.npz")
    assert "two.npz" in msg and "2 arrays" in msg and "w" in msg and "b" in msg
    assert "exactly one" in msg


def test_npz_object_array_refused(tmp_path):
    np.savez(tmp_path / "o.npz", x=np.array([None], dtype=object))
    assert "object" in error_text(read_dense, tmp_path / "o.npz")


# ---------------------------------------------------------------- dense: writing

@pytest.mark.parametrize("ext", [".csv", ".tsv", ".tab", ".npy", ".npz"])
@pytest.mark.parametrize("array", [np.array([1.5, -2.0, 0.1]), np.array([[1.0, 2.0], [3.0, np.nan]])])
def test_dense_round_trip(tmp_path, ext, array):
    path = tmp_path / f"out{ext}"
    write_dense(path, array)
    np.testing.assert_array_equal(read_dense(path), array)


def test_csv_layout(tmp_path):
    write_dense(tmp_path / "v.csv", np.array([1, 2]))
    assert (tmp_path / "v.csv").read_text() == "1\n2\n"
    write_dense(tmp_path / "m.tsv", np.array([[1.0, 0.5], [True, False]]))
    assert (tmp_path / "m.tsv").read_text() == "1.0\t0.5\n1.0\t0.0\n"
    write_dense(tmp_path / "b.csv", np.array([True, False]))
    assert (tmp_path / "b.csv").read_text() == "1\n0\n"


def test_csv_column_reads_back_as_vector(tmp_path):
    write_dense(tmp_path / "c.csv", np.ones((3, 1)))
    assert read_dense(tmp_path / "c.csv").shape == (3,)


def test_csv_rank3_refused(tmp_path):
    msg = error_text(write_dense, tmp_path / "t.csv", np.zeros((2, 2, 2)))
    assert "rank-3" in msg and ".npy" in msg
    assert not (tmp_path / "t.csv").exists()


def test_npy_rank3_round_trip(tmp_path):
    a = np.arange(24.0).reshape(2, 3, 4)
    write_dense(tmp_path / "t.npy", a)
    np.testing.assert_array_equal(read_dense(tmp_path / "t.npy"), a)


def test_write_object_array_refused(tmp_path):
    assert "dtype object" in error_text(write_dense, tmp_path / "o.npy", np.array([{}], dtype=object))
    assert not (tmp_path / "o.npy").exists()


def test_write_into_missing_folder(tmp_path):
    msg = error_text(write_dense, tmp_path / "no" / "x.csv", [1.0])
    assert "does not exist" in msg


finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=60, deadline=None)
@given(
    array=st.one_of(
        hnp.arrays(np.float64, st.integers(0, 8), elements=finite_or_not),
        hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 5)), elements=finite_or_not),
    ),
    ext=st.sampled_from([".csv", ".npy"]),
)
def test_dense_round_trip_property(tmp_path_factory, array, ext):
    path = tmp_path_factory.mktemp("rt") / f"a{ext}"
    write_dense(path, array)
    back = read_dense(path)
    assert back.shape == array.shape and back.dtype == np.float64
    np.testing.assert_array_equal(back, array)


# ---------------------------------------------------------------- facts

def test_facts_csv(tmp_path):
    facts = read_facts(put(tmp_path / "parent.csv", "Alice, Bob\nBob,Carol\n# c\n3,\"x y\"\n"))
    assert facts == [("Alice", "Bob"), ("Bob", "Carol"), (3, "x y")]


def test_facts_tab_separated(tmp_path):
    for ext in (".facts", ".tsv", ".tab"):
        assert read_facts(put(tmp_path / f"e{ext}", "0\t1\n1\t-2\n")) == [(0, 1), (1, -2)]


def test_facts_int_rule_and_quotes(tmp_path):
    facts = read_facts(put(tmp_path / "f.csv", '007,+3,"3",1.5,a""b,"say ""hi""",""\n'))
    assert facts == [("007", "+3", "3", "1.5", 'a""b', 'say "hi"', "")]


def test_facts_ragged(tmp_path):
    msg = error_text(read_facts, put(tmp_path / "file.csv", "a,b\nc,d\ne\n"))
    assert "file.csv:3:" in msg and "row has 1 value, expected 2" in msg


def test_facts_empty_cell(tmp_path):
    msg = error_text(read_facts, put(tmp_path / "f.csv", "a,b\nc,\n"))
    assert "f.csv:2:" in msg and "empty value in column 2" in msg


def test_facts_empty_file(tmp_path):
    assert read_facts(put(tmp_path / "e.facts", "")) == []
    assert read_facts(put(tmp_path / "e.csv", "\n# only a comment\n")) == []


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".tab", ".facts"])
def test_facts_round_trip(tmp_path, ext):
    facts = [("Alice", "Bob", 0), ("a,b", "tab\there", -7), ('q"uote', "", 12),
             ("12", " padded ", 3), ("#hash", "007", 1)]
    write_facts(tmp_path / f"f{ext}", facts)
    assert read_facts(tmp_path / f"f{ext}") == facts


def test_write_facts_numpy_ints_and_errors(tmp_path):
    write_facts(tmp_path / "n.csv", [(np.int64(1), "x")])
    assert read_facts(tmp_path / "n.csv") == [(1, "x")]
    assert "fact 2 has 1 values, expected 2" in error_text(write_facts, tmp_path / "r.csv", [(1, 2), (3,)])
    assert "integers and strings" in error_text(write_facts, tmp_path / "f.csv", [(1.5,)])
    assert "integers and strings" in error_text(write_facts, tmp_path / "b.csv", [(True,)])
    assert "line break" in error_text(write_facts, tmp_path / "l.csv", [("a\nb",)])
    assert "no values" in error_text(write_facts, tmp_path / "z.csv", [()])
    assert "cannot hold facts" in error_text(write_facts, tmp_path / "x.npy", [(1,)])


def test_write_facts_empty(tmp_path):
    write_facts(tmp_path / "e.facts", [])
    assert read_facts(tmp_path / "e.facts") == []


# ---------------------------------------------------------------- text

def test_read_text_tokens(tmp_path):
    assert read_text(put(tmp_path / "t.txt", "Alice loves Bob.")) == ["Alice", "loves", "Bob", "."]


def test_read_text_whitespace_and_punctuation(tmp_path):
    words = read_text(put(tmp_path / "t.txt", "Hi,\tthere!\n\nIt's 3.5 -- ok"))
    assert words == ["Hi", ",", "there", "!", "It", "'", "s", "3", ".", "5", "-", "-", "ok"]
    assert read_text(put(tmp_path / "e.txt", "")) == []


# ---------------------------------------------------------------- paths

def test_relative_path_resolves_in_base(tmp_path):
    (tmp_path / "data").mkdir()
    assert resolve_path("data/x.csv", tmp_path) == tmp_path.resolve() / "data" / "x.csv"
    assert resolve_path("data/../x.csv", str(tmp_path)) == tmp_path.resolve() / "x.csv"


def test_absolute_inside_base_allowed(tmp_path):
    inside = tmp_path / "x.csv"
    assert resolve_path(str(inside), tmp_path) == inside.resolve()


def test_dotdot_escape_refused(tmp_path):
    prog = tmp_path / "prog"
    prog.mkdir()
    msg = error_text(resolve_path, "../x.csv", prog)
    assert "'../x.csv'" in msg and "outside the program's folder" in msg
    assert "--allow-path DIR" in msg


def test_absolute_outside_refused(tmp_path):
    prog = tmp_path / "prog"
    prog.mkdir()
    assert "outside the program's folder" in error_text(resolve_path, str(tmp_path / "x.csv"), prog)
    assert "outside the program's folder" in error_text(resolve_path, "/etc/passwd", prog)


def test_symlink_outside_refused(tmp_path):
    prog, secret = tmp_path / "prog", tmp_path / "secret"
    prog.mkdir()
    secret.mkdir()
    put(secret / "s.csv", "1\n")
    os.symlink(secret / "s.csv", prog / "link.csv")
    os.symlink(secret, prog / "dirlink")
    msg = error_text(resolve_path, "link.csv", prog)
    assert "outside the program's folder" in msg and "leads to" in msg
    assert "outside" in error_text(resolve_path, "dirlink/s.csv", prog)


def test_symlink_inside_allowed(tmp_path):
    put(tmp_path / "real.csv", "1\n")
    os.symlink(tmp_path / "real.csv", tmp_path / "alias.csv")
    assert resolve_path("alias.csv", tmp_path) == (tmp_path / "real.csv").resolve()


def test_allowed_path_works(tmp_path):
    prog, shared = tmp_path / "prog", tmp_path / "shared"
    prog.mkdir()
    shared.mkdir()
    target = shared / "x.csv"
    assert resolve_path("../shared/x.csv", prog, [shared]) == target.resolve()
    assert resolve_path(str(target), prog, [str(shared)]) == target.resolve()
    assert "outside" in error_text(resolve_path, "../other/x.csv", prog, [shared])


def test_bad_path_strings(tmp_path):
    assert "empty file name" in error_text(resolve_path, "", tmp_path)
    assert "NUL" in error_text(resolve_path, "a\x00b.csv", tmp_path)


# ---------------------------------------------------------------- atomic writes

def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("ext", [".csv", ".npy", ".npz"])
def test_failed_replace_keeps_old_file(tmp_path, monkeypatch, ext):
    path = tmp_path / f"out{ext}"
    write_dense(path, np.array([1.0, 2.0]))
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    msg = error_text(write_dense, path, np.array([9.0, 9.0, 9.0]))
    assert "No space left on device" in msg and "unchanged" in msg
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failed_write_midway_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "f.csv"
    write_facts(path, [("a", "b")])
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    assert "I/O error" in error_text(write_facts, path, [("c", "d")])
    assert read_facts(path) == [("a", "b")]
    assert leftovers(tmp_path) == []


def test_interrupt_during_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "k.npy"
    write_dense(path, np.zeros(2))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_dense(path, np.ones(2))
    np.testing.assert_array_equal(read_dense(path), np.zeros(2))
    assert leftovers(tmp_path) == []


def test_overwrite_keeps_mode(tmp_path):
    path = tmp_path / "m.csv"
    write_dense(path, [1.0])
    os.chmod(path, 0o640)
    write_dense(path, [2.0])
    assert (path.stat().st_mode & 0o777) == 0o640
    np.testing.assert_array_equal(read_dense(path), [2.0])


def test_new_file_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_dense(tmp_path / "n.csv", [1.0])
    finally:
        os.umask(old)
    assert ((tmp_path / "n.csv").stat().st_mode & 0o777) == 0o644
