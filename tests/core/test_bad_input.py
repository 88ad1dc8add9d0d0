"""Bad input to every `dig` command: an `error:` line naming the file or key, exit code 2, no
traceback and nothing written (issue 19's table). No renders: the datasets are written as files
(tests.helpers.write_dig_dataset) and then damaged."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import write_dig_dataset

ASSETS = Path(__file__).resolve().parents[1] / "assets"
#: a YAML "billion laughs": 10^9 values through nine levels of aliases
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return write_dig_dataset(tmp_path_factory.mktemp("bad-input") / "ds", n=2)


def _lines(ds: Path) -> list[dict]:
    return [json.loads(x) for x in (ds / "metadata.jsonl").read_text().splitlines()]


def _write_lines(ds: Path, recs: list[dict], raw: str | None = None) -> None:
    (ds / "metadata.jsonl").write_text(raw if raw is not None else "".join(json.dumps(r) + "\n" for r in recs))


# -- damage: each takes the dataset folder (a fresh copy) and the test's tmp folder --------------
def byte_0xff_in_metadata(ds, tmp):
    (ds / "metadata.jsonl").write_bytes(b'{"id": "\xff"}\n' + (ds / "metadata.jsonl").read_bytes())


def byte_0xff_in_manifest(ds, tmp):
    (ds / "dataset.json").write_bytes(b"\xff" + (ds / "dataset.json").read_bytes())


def inverted_box(ds, tmp):
    recs = _lines(ds)
    x0, y0, x1, y1 = recs[0]["boxes"][0]
    recs[0]["boxes"][0] = recs[0]["differences"][0]["box"] = [x1, y1, x0, y0]
    _write_lines(ds, recs)


def nan_box(ds, tmp):
    raw = (ds / "metadata.jsonl").read_text()
    _write_lines(ds, [], raw.replace('"boxes": [[', '"boxes": [[NaN, ', 1).replace('"boxes":[[', '"boxes":[[NaN,', 1))


def bad_lines(ds, tmp):
    """Five lines after the two sound ones, each wrong in one way: an id used twice, an inverted box,
    a box outside the image, an image path out of the folder, an absolute path to another dataset."""
    recs = _lines(ds)
    other = write_dig_dataset(tmp / "other", n=1)
    png = str(other / _lines(other)[0]["image_b"])
    r = recs[1]
    x0, y0, x1, y1 = r["boxes"][0]
    _write_lines(ds, [*recs, {**r},
                      {**r, "id": "inverted", "boxes": [[x1, y1, x0, y0]]},
                      {**r, "id": "outside", "boxes": [[0, 0, 10_000, 10]]},
                      {**r, "id": "escapes", "image_a": "../../etc/passwd", "image_a_file_name": "../../etc/passwd"},
                      {**r, "id": "absolute", "image_b": png, "image_b_file_name": png}])


#: what the error of a dataset damaged by bad_lines names: file:line and the problem of each line
BAD_LINES = ("metadata.jsonl:3: id 'dig-1-00001' is also on line 2", "metadata.jsonl:4: boxes[0]",
             "inverted", "metadata.jsonl:5: boxes[0]", "outside the 96x64 image",
             "metadata.jsonl:6: image_a: '../../etc/passwd' is not inside the dataset folder",
             "metadata.jsonl:7: image_b:")


def corrupt_png(ds, tmp):
    png = ds / _lines(ds)[1]["image_b"]
    png.write_bytes(png.read_bytes()[:60])


def nothing(ds, tmp):
    pass


# -- inputs other than the dataset ---------------------------------------------------------------
def preds(tmp: Path, content: bytes | None = None) -> Path:
    path = tmp / "preds.jsonl"
    path.write_bytes(content if content is not None else b'{"benchmark": "dig", "id": "x", "completion": "[]"}\n')
    return path


GARBAGE = bytes(range(256)) * 4 + b"\n"
DEEP = b"[" * 100_000 + b"]" * 100_000 + b"\n"


def a_file(tmp: Path) -> Path:
    (tmp / "a-file").write_text("")
    return tmp / "a-file"


def _score(ds, tmp, p=None, *more):
    return ["score", str(p or preds(tmp)), "--dataset", str(ds), *more]


def _show(ds, tmp, out=None):
    return ["show", str(ds), "--out", str(out or tmp / "sheet.png")]


def _audit(ds, tmp, *more):
    return ["audit", str(ds), *more]


def _export(ds, tmp, out=None):
    return ["export-openrlhf", str(ds), "--out", str(out or tmp / "export"), "--no-progress",
            f"trainer.params.model={ASSETS / 'nano-base'}"]


def _eval(ds, tmp, p=None, out=None):
    return ["eval", "model.name=predictions", f"model.params.path={p or preds(tmp)}", "model.params.coords=pixels",
            "evaluator.name=dig", f"evaluator.params.dataset={ds}", "--out", str(out or tmp / "eval"), "--no-progress"]


def _verify(ds, tmp):
    return ["verify", str(ds), "--no-progress"]


def _pipeline(tmp: Path) -> Path:
    path = tmp / "p.yaml"
    path.write_text("steps:\n  data: {type: generate, config: {curriculum: {stages: [{name: s, pairs: 1}]}}}\n")
    return path


READERS = {"verify": _verify, "score": _score, "show": _show, "audit": _audit, "export": _export, "eval": _eval}

# (id, damage, command(ds, tmp) -> args, what the error line must name)
CASES = [
    ("config-bad-key", nothing, lambda ds, tmp: ["config", "show", "curriculum.stages[x.pairs=1"],
     "curriculum.stages[x.pairs"),
    ("config-missing-interpolation", nothing, lambda ds, tmp: ["config", "show", "seed=${nope}"], "seed"),
    ("config-interpolation-cycle", nothing, lambda ds, tmp: ["config", "show", "seed=${seed}"], "seed"),
    ("config-unknown-resolver", nothing, lambda ds, tmp: ["config", "show", "seed=${nope:1}"], "seed"),
    ("run-override-interpolation", nothing,
     lambda ds, tmp: ["run", str(_pipeline(tmp)), "--dry-run", "--out", str(tmp / "run"), "config.seed=${nope}"],
     "seed"),
    ("run-override-cycle", nothing,
     lambda ds, tmp: ["run", str(_pipeline(tmp)), "--dry-run", "--out", str(tmp / "run"),
                      "steps.data.config.scene.width=${scene.height}", "steps.data.config.scene.height=${scene.width}"],
     "scene."),
    ("yaml-alias-bomb", nothing,
     lambda ds, tmp: ["config", "show", "--config", str((tmp / "bomb.yaml", (tmp / "bomb.yaml").write_text(BOMB))[0])],
     "bomb.yaml"),
    ("camera-jitter-inf", nothing, lambda ds, tmp: ["config", "show", "scene.camera_jitter=-.inf"],
     "scene.camera_jitter"),
    *[(f"{name}-0xff-in-metadata", byte_0xff_in_metadata, cmd, "metadata.jsonl:1") for name, cmd in READERS.items()],
    ("verify-0xff-in-manifest", byte_0xff_in_manifest, _verify, "dataset.json"),
    ("score-binary-predictions", nothing, lambda ds, tmp: _score(ds, tmp, preds(tmp, GARBAGE)), "preds.jsonl:1"),
    ("score-deep-predictions", nothing, lambda ds, tmp: _score(ds, tmp, preds(tmp, DEEP)), "preds.jsonl:1"),
    ("eval-binary-predictions", nothing, lambda ds, tmp: _eval(ds, tmp, preds(tmp, GARBAGE)), "preds.jsonl:1"),
    ("eval-deep-predictions", nothing, lambda ds, tmp: _eval(ds, tmp, preds(tmp, DEEP)), "preds.jsonl:1"),
    ("show-out-missing-folder", nothing, lambda ds, tmp: _show(ds, tmp, tmp / "no" / "sheet.png"), "no/sheet.png"),
    ("show-out-under-a-file", nothing, lambda ds, tmp: _show(ds, tmp, a_file(tmp) / "sheet.png"), "a-file"),
    ("score-out-under-a-file", nothing, lambda ds, tmp: _score(ds, tmp, None, "--out", str(a_file(tmp) / "s.jsonl")),
     "a-file"),
    ("audit-json-out-missing-folder", nothing,
     lambda ds, tmp: _audit(ds, tmp, "--json-out", str(tmp / "no" / "a.jsonl")), "no/a.jsonl"),
    ("audit-histograms-under-a-file", nothing,
     lambda ds, tmp: _audit(ds, tmp, "--histograms", str(a_file(tmp) / "h.png")), "a-file"),
    ("export-out-under-a-file", nothing, lambda ds, tmp: _export(ds, tmp, a_file(tmp) / "x"), "a-file"),
    ("eval-out-under-a-file", nothing, lambda ds, tmp: _eval(ds, tmp, None, a_file(tmp) / "x"), "a-file"),
    ("show-disk-full", nothing, lambda ds, tmp: [*_show(ds, tmp), "--rlimit-fsize"], "sheet.png"),
    ("audit-disk-full", nothing,
     lambda ds, tmp: [*_audit(ds, tmp, "--json-out", str(tmp / "a.jsonl")), "--rlimit-fsize"], "a.jsonl"),
    ("show-inverted-box", inverted_box, _show, "boxes[0]"),
    ("audit-nan-box", nan_box, _audit, "metadata.jsonl:1"),
    ("export-nan-box", nan_box, _export, "metadata.jsonl:1"),
    *[(f"{name}-bad-lines", bad_lines, cmd, BAD_LINES) for name, cmd in READERS.items()],
    *[(f"{name}-corrupt-png", corrupt_png, cmd, "_b.png") for name, cmd in READERS.items()
      if name in ("verify", "show", "audit", "export")],
]


def _limit_file_size() -> None:  # a disk that fills up: writes past 100 bytes fail (EFBIG, like ENOSPC)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))


@pytest.mark.parametrize("damage, command, names", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_an_error_line(clean, tmp_path, damage, command, names):
    ds = tmp_path / "ds"
    shutil.copytree(clean, ds)
    damage(ds, tmp_path)
    args = command(ds, tmp_path)
    full = "--rlimit-fsize" in args
    args = [a for a in args if a != "--rlimit-fsize"]
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run([sys.executable, "-m", "dig_core", *args], capture_output=True, text=True, env=env,
                       timeout=60, preexec_fn=_limit_file_size if full else None)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 2, (r.returncode, r.stderr)
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert errors, r.stderr
    for name in (names,) if isinstance(names, str) else names:
        assert name in r.stderr, (name, r.stderr)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before  # nothing written
