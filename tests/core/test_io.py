"""dig_core.data.io: atomic writes that leave no temporary file and name what failed, strict JSON,
and JSONL reading that names the file and line of a bad line."""

from __future__ import annotations

import math

import pytest
from dig_core.data.io import (
    atomic_write_text,
    dumps_json,
    dumps_line,
    ensure_folder,
    iter_jsonl,
    loads_strict,
    temp_target,
)
from dig_core.errors import DatasetError, OutputError


def test_atomic_write_leaves_no_temp(tmp_path):
    atomic_write_text(tmp_path / "f.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_write_errors_name_the_file(tmp_path):
    with pytest.raises(OutputError, match=r"cannot write .*/no/f.json: folder .*/no does not exist"):
        atomic_write_text(tmp_path / "no" / "f.json", "{}")
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match=r"cannot write .*/file/f.json: .*/file is not a folder"):
        atomic_write_text(tmp_path / "file" / "f.json", "{}")
    with pytest.raises(OutputError, match="cannot create folder"):
        ensure_folder(tmp_path / "file" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_temp_files_name_their_target():
    assert temp_target(".x_a.png.ab12cd.tmp") == "x_a.png" and temp_target("x_a.png") is None


def test_json_is_strict_both_ways():
    for bad in (math.nan, math.inf):
        with pytest.raises(ValueError):
            dumps_json({"v": bad})
        with pytest.raises(ValueError):
            dumps_line({"v": bad})
    for text in ('{"v": NaN}', '{"v": -Infinity}'):
        with pytest.raises(ValueError, match="not valid JSON"):
            loads_strict(text)
    assert loads_strict(dumps_json({"v": 1.5})) == {"v": 1.5}


def test_jsonl_lines_problems_and_a_torn_tail(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(b'{"a": 1}\n\n[1]\n{"a": NaN}\n{"a": 2')
    with pytest.raises(DatasetError, match=r"x.jsonl:3: expected a JSON object, got list"):
        list(iter_jsonl(f))
    problems: list[str] = []
    assert list(iter_jsonl(f, problems=problems, skip_torn_tail=True, allow_nan=False)) == [(1, {"a": 1})]
    assert [p.split("x.jsonl")[1][:3] for p in problems] == [":3:", ":4:"]
    assert [n for n, _ in iter_jsonl(f, problems=[])] == [1, 4]  # NaN allowed by default; the torn tail is a problem
    with pytest.raises(OutputError, match="cannot be read"):
        list(iter_jsonl(tmp_path / "missing.jsonl", error=OutputError))
