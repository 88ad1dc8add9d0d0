"""Dataset folder: resume repair (formats 1 and 2), corrupt lines named, ``datasets.load_dataset(DIR)``
from any working directory, the content hash and ``dig verify`` (atomic files and JSONL themselves:
test_io.py)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Sequence

import numpy as np
import pytest
from dig_core.data.dataset import (
    ANNOTATION_KEYS,
    ANNOTATIONS,
    CARD,
    FILE_NAME_KEYS,
    FORMAT_VERSION,
    LOCK,
    MANIFEST,
    METADATA,
    DatasetWriter,
    annotations_path,
    content_hash,
    format_version,
    image_names,
    image_path,
    read_annotations,
    read_manifest,
    refuse_output_in_dataset,
    scan_dataset,
)
from dig_core.data.io import atomic_write_text, dumps_json
from dig_core.errors import DatasetError, OutputError
from PIL import Image

from tests.helpers import write_dig_dataset


def _record(i: int) -> dict:
    a, b = image_names(f"p-{i}")
    return {"id": f"p-{i}", "stage": "s", "image_a": a, "image_b": b, "width": 4, "height": 3,
            "boxes": [[0, 0, 2, 2]], "differences": [{"type": "color", "object_id": 0, "before": {"color": "red"},
                                                      "after": {"color": "blue"}, "box": [0, 0, 2, 2]}],
            "scene_a": {}, "scene_b": {}, "seed": i}


def _write(root, n, manifest=None, version=FORMAT_VERSION, start=0):
    w = DatasetWriter(root, version).open(manifest or {"config": {"seed": 0}})
    with w:
        for i in range(start, n):
            rec = _record(i)
            w.write_pair(rec, {rec["image_a"]: b"A%d" % i, rec["image_b"]: b"B%d" % i})
    return w


def test_write_and_read_back(tmp_path):
    _write(tmp_path, 3)
    recs = list(read_annotations(tmp_path))
    assert [r["id"] for r in recs] == ["p-0", "p-1", "p-2"]
    assert (tmp_path / "images" / "p-2_b.png").read_bytes() == b"B2"
    assert read_manifest(tmp_path) == {"config": {"seed": 0}, "format_version": 2}
    assert FORMAT_VERSION == 2 and format_version(tmp_path) == 2 and annotations_path(tmp_path).name == METADATA
    assert not (tmp_path / ANNOTATIONS).exists() and "metadata.jsonl" in (tmp_path / CARD).read_text()
    for r in recs:  # format 2 lines: the annotation plus the keys imagefolder reads the images from
        assert list(r)[: len(ANNOTATION_KEYS)] == list(ANNOTATION_KEYS)
        assert (r["image_a_file_name"], r["image_b_file_name"]) == (r["image_a"], r["image_b"])


@pytest.mark.parametrize("version", [1, 2])
def test_resume_repairs_truncated_line_orphans_and_temp_files(tmp_path, version):
    fresh, tmp_path = tmp_path / "fresh", tmp_path / "resumed"
    _write(tmp_path, 2, version=version)
    ann = tmp_path / {1: ANNOTATIONS, 2: METADATA}[version]
    ann.write_bytes(ann.read_bytes() + b'{"id": "p-2", "stage": "s", "ima')  # killed mid-line
    (tmp_path / "images" / "p-2_a.png").write_bytes(b"orphan")  # image without a line
    (tmp_path / "images" / ".p-3_a.png.123.tmp").write_bytes(b"half")
    (tmp_path / ".dataset.json.9.tmp").write_bytes(b"{")
    # a new writer: the folder's version wins
    w = DatasetWriter(tmp_path).open({"config": {"seed": 0}}, [f"p-{i}" for i in range(4)])
    w.close()
    assert w.done == ["p-0", "p-1"] and w.format_version == version
    assert ann.read_bytes().endswith(b"\n")
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == ["p-0_a.png", "p-0_b.png", "p-1_a.png", "p-1_b.png"]
    assert not list(tmp_path.glob(".*.tmp"))
    _write(tmp_path, 4, start=2)  # continue: same lines as a run that never stopped
    _write(fresh, 4, version=version)
    assert ann.read_bytes() == (fresh / ann.name).read_bytes()
    assert read_manifest(tmp_path)["format_version"] == version
    assert content_hash(tmp_path) == content_hash(fresh)


class Unlisted(Sequence):
    """A plan's ids that may be sliced and asked ``in``, but never listed (a million-pair plan)."""

    def __init__(self, ids):
        self.ids = ids

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, index):
        return self.ids[index]

    def __contains__(self, pair_id):
        return pair_id in self.ids

    def __iter__(self):
        raise AssertionError("the plan's ids were listed")


def test_resume_repair_asks_the_plan_about_each_image_without_listing_it(tmp_path):
    _write(tmp_path, 2)
    (tmp_path / "images" / "p-2_b.png").write_bytes(b"orphan")  # planned, no line: removed
    (tmp_path / "images" / ".p-3_a.png.7.tmp").write_bytes(b"half")  # planned, temporary: removed
    for name in ("p-9_a.png", "notes.txt", "_a.png", "p-1_c.png"):  # not images of planned pairs: kept
        (tmp_path / "images" / name).write_bytes(b"theirs")
    with DatasetWriter(tmp_path).open({"config": {"seed": 0}}, Unlisted([f"p-{i}" for i in range(4)])) as w:
        assert w.done == ["p-0", "p-1"]
    assert sorted(p.name for p in (tmp_path / "images").iterdir()) == [
        "_a.png", "notes.txt", "p-0_a.png", "p-0_b.png", "p-1_a.png", "p-1_b.png", "p-1_c.png", "p-9_a.png"]


def test_format_1_folders_still_read(tmp_path):
    """A folder written before format 2: annotations.jsonl, no file-name keys, no card."""
    root = tmp_path / "v1"
    (root / "images").mkdir(parents=True)
    recs = [_record(i) for i in range(3)]
    (root / ANNOTATIONS).write_text("".join(json.dumps(r) + "\n" for r in recs))
    (root / "dataset.json").write_text(json.dumps({"format_version": 1, "status": "complete", "config": {}}))
    for r in recs:
        for key in ("image_a", "image_b"):
            (root / r[key]).write_bytes(r[key].encode())
    assert list(read_annotations(root)) == recs and format_version(root) == 1
    (root / METADATA).write_text("")
    with pytest.raises(DatasetError, match="has both metadata.jsonl and annotations.jsonl"):
        list(read_annotations(root))
    with pytest.raises(DatasetError, match="has both"):
        DatasetWriter(root).open({"config": {}})


def test_resume_with_other_config_is_refused(tmp_path):
    _write(tmp_path, 1)
    with pytest.raises(DatasetError, match="different config"):
        DatasetWriter(tmp_path).open({"config": {"seed": 1}})


def test_corrupt_line_is_named(tmp_path):
    _write(tmp_path, 2)
    ann = tmp_path / METADATA
    lines = ann.read_text().splitlines()
    lines.insert(1, "{not json")
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"metadata.jsonl:2: corrupt line"):
        list(read_annotations(tmp_path))
    lines[1] = json.dumps({"id": "x"})
    ann.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r":2: annotation 'x' lacks key"):
        list(read_annotations(tmp_path))


def test_missing_dataset(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        list(read_annotations(tmp_path / "nope"))
    with pytest.raises(DatasetError, match="metadata.jsonl: not found, nor annotations.jsonl of format 1"):
        list(read_annotations(tmp_path))


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DatasetError, match="cannot write to output folder"):
        DatasetWriter(blocker / "sub").open({"config": {}})


def _snapshot(root):
    """Every path under ``root`` with its bytes (None for a folder)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes() for p in sorted(root.rglob("*"))}


PLAN = [f"p-{i}" for i in range(4)]


def test_one_writer_per_folder(tmp_path):
    """A second writer fails at once naming the holder's PID; the lock goes with the first writer."""
    import os
    import signal
    import subprocess
    import sys

    first = DatasetWriter(tmp_path).open({"config": {"seed": 0}}, PLAN)
    assert (tmp_path / LOCK).read_text().strip() == str(os.getpid())
    with pytest.raises(OutputError, match=rf"being written by another process \(pid {os.getpid()}"):
        DatasetWriter(tmp_path).open({"config": {"seed": 0}}, PLAN)
    first.close()
    assert not (tmp_path / LOCK).exists()  # released and removed
    # a holder killed with -9 blocks no one: the kernel drops its lock
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from dig_core.data.dataset import DatasetWriter; "
        f"w = DatasetWriter({str(tmp_path)!r}).open({{'config': {{'seed': 0}}}}); print('held', flush=True); "
        "time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(OutputError, match=rf"pid {holder.pid}\b"):
        DatasetWriter(tmp_path).open({"config": {"seed": 0}}, PLAN)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    _write(tmp_path, 2).close()
    assert [r["id"] for r in read_annotations(tmp_path)] == ["p-0", "p-1"]


@pytest.mark.parametrize("case", ["images-and-temp", "other-files", "not-a-dig-manifest", "a-file"])
def test_a_folder_that_is_not_a_dig_dataset_is_refused_untouched(tmp_path, case):
    root = tmp_path / "other"
    if case == "a-file":
        root.write_text("mine")
        before = root.read_text()
    else:
        root.mkdir()
        if case == "images-and-temp":  # what `dig generate` once emptied
            (root / "images" / "sub").mkdir(parents=True)
            (root / "images" / "cat.png").write_bytes(b"cat")
            (root / ".notes.swp.x.tmp").write_bytes(b"x")
        elif case == "other-files":
            (root / "thesis.tex").write_text("x")
        else:
            (root / MANIFEST).write_text('{"name": "somebody else\'s"}')
        before = _snapshot(root)
    with pytest.raises(OutputError) as e:
        DatasetWriter(root).open({"config": {"seed": 0}}, PLAN)
    assert str(root) in str(e.value)
    expected = {"images-and-temp": "it holds .notes.swp.x.tmp, images/", "other-files": "it holds thesis.tex",
                "not-a-dig-manifest": "not a DiG manifest", "a-file": "is not a folder"}[case]
    assert expected in str(e.value)
    assert (root.read_text() if case == "a-file" else _snapshot(root)) == before


def test_a_folder_cut_short_before_its_manifest_is_written(tmp_path):
    """What a writer killed before its first manifest leaves (lock file, manifest temp) counts as empty."""
    (tmp_path / LOCK).write_text("12345\n")
    (tmp_path / ".dataset.json.ab12cd.tmp").write_text("{")
    _write(tmp_path, 2).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [CARD, MANIFEST, "images", METADATA]


def test_repair_removes_only_what_the_plan_names(tmp_path):
    _write(tmp_path, 2)
    images = tmp_path / "images"
    (images / "p-2_a.png").write_bytes(b"orphan")  # planned, no line: DiG's, removed
    (images / ".p-3_b.png.k2j4.tmp").write_bytes(b"half")  # DiG's temp file of a planned image: removed
    foreign = {"images/cat.png": b"cat", "images/q-9_a.png": b"not planned", "images/.cat.png.k2j4.tmp": b"t",
               "notes.txt": b"mine", ".notes.txt.k2j4.tmp": b"t", "images/p-3_a.png/x": b"a folder"}
    for rel, data in foreign.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    DatasetWriter(tmp_path).open({"config": {"seed": 0}}, PLAN).close()
    assert not (images / "p-2_a.png").exists() and not (images / ".p-3_b.png.k2j4.tmp").exists()
    assert {rel: (tmp_path / rel).read_bytes() for rel in foreign} == foreign


def test_a_refused_resume_changes_nothing(tmp_path):
    """Pairs that are not a prefix of the plan (or a torn line, orphans): refused before any byte changes."""
    _write(tmp_path, 3, {"config": {"seed": 0}, "status": "complete", "content_hash": "sha256:ab"})
    ann = tmp_path / METADATA
    lines = ann.read_bytes().splitlines(keepends=True)
    ann.write_bytes(lines[1] + lines[0] + lines[2] + b'{"id": "p-3", "sta')  # p-1, p-0: not the plan's order
    (tmp_path / "images" / "p-3_a.png").write_bytes(b"orphan")
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetError, match="not a prefix of this config's plan"):
        DatasetWriter(tmp_path).open({"config": {"seed": 0}, "status": "in_progress"}, PLAN)
    assert _snapshot(tmp_path) == before  # manifest (status, content hash), lines, images
    shutil.rmtree(tmp_path / "images")
    (tmp_path / "images").write_text("not a folder")
    before = _snapshot(tmp_path)
    with pytest.raises(DatasetError, match="images: not a folder"):
        DatasetWriter(tmp_path).open({"config": {"seed": 0}, "status": "in_progress"}, PLAN)
    assert _snapshot(tmp_path) == before
    assert read_manifest(tmp_path)["content_hash"] == "sha256:ab"


def test_outputs_inside_the_dataset_being_read_are_refused(tmp_path):
    data = write_dig_dataset(tmp_path / "ds", n=1)
    (tmp_path / "link").symlink_to(data)
    for out in ("ds", "ds/metadata.jsonl", "ds/dataset.json", "ds/images", "ds/images/x_a.png", "ds/README.md",
                "ds/difficulty.png", "ds/.dataset.json.x.tmp", "ds/images/../dataset.json", "link/metadata.jsonl",
                "link", ""):
        with pytest.raises(OutputError, match="being read|is empty"):
            refuse_output_in_dataset(tmp_path / out if out else "", data)
    for out in ("ds/report.jsonl", "ds/exports/dig-1.jsonl", "report.jsonl", "ds2/metadata.jsonl"):
        refuse_output_in_dataset(tmp_path / out, data)  # a report under a name the dataset never uses


def _load_elsewhere(root, tmp_path, monkeypatch, **kw):
    """``datasets.load_dataset(DIR)`` run from another working directory, with a fresh cache."""
    import datasets

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    return datasets.load_dataset(str(root), cache_dir=str(tmp_path / "cache"), **kw)


def test_load_dataset_dir_gives_both_images_decoded_from_any_cwd(tmp_path, monkeypatch):
    import datasets

    # stage names with split words: the card keeps them from being taken for splits
    root = write_dig_dataset(tmp_path / "ds", size=(64, 48), seed=3,
                             stages=[("test-1", 1, 1, True, 2), ("dig-eval", 1, 3, False, 3)])
    ds = _load_elsewhere(root, tmp_path, monkeypatch)
    assert list(ds) == ["train"]
    train = ds["train"]
    recs = list(read_annotations(root))
    assert train.num_rows == len(recs) == 5
    assert isinstance(train.features["image_a"], datasets.Image) and isinstance(train.features["image_b"], datasets.Image)
    for row, rec in zip(train, recs):
        assert row["id"] == rec["id"]
        for key in ("stage", "width", "height", "boxes", "count_in_prompt", "seed"):
            assert row[key] == rec[key], key
        assert [d["type"] for d in row["differences"]] == [d["type"] for d in rec["differences"]]
        assert row["scene_a"] == rec["scene_a"]
        for key in ("image_a", "image_b"):
            img = row[key]
            assert isinstance(img, Image.Image) and img.size == (64, 48)
            assert np.array_equal(np.asarray(img.convert("RGB")), np.asarray(Image.open(root / rec[key]).convert("RGB")))
    # a relative DIR works as well (relative to the caller's cwd, as any path)
    monkeypatch.chdir(tmp_path)
    assert datasets.load_dataset("ds", split="train", cache_dir=str(tmp_path / "cache2")).num_rows == 5


def test_load_dataset_reads_every_field_type_of_a_generated_line(tmp_path, monkeypatch):
    """Lines as `dig generate` writes them (add/remove with an empty side, rejected reasons)."""
    _write(tmp_path / "d", 3)
    for rel in (f"images/p-{i}_{s}.png" for i in range(3) for s in "ab"):
        Image.new("RGB", (4, 3), (9, 9, 9)).save(tmp_path / "d" / rel)
    train = _load_elsewhere(tmp_path / "d", tmp_path, monkeypatch, split="train")
    assert train.num_rows == 3 and train[0]["boxes"] == [[0, 0, 2, 2]] and train[0]["image_b"].size == (4, 3)


def test_content_hash_covers_annotations_and_pixels_not_the_format(tmp_path):
    root = write_dig_dataset(tmp_path / "ds", n=3, size=(48, 32), seed=1)
    h = content_hash(root)
    assert h.startswith("sha256:") and len(h) == 7 + 64
    assert content_hash(root) == h == content_hash(write_dig_dataset(tmp_path / "again", n=3, size=(48, 32), seed=1))
    # the same pairs as a format-1 folder with the lines in another order: same hash
    v1 = tmp_path / "v1"
    shutil.copytree(root / "images", v1 / "images")
    recs = list(read_annotations(root))
    lines = [json.dumps({k: v for k, v in r.items() if k not in FILE_NAME_KEYS.values()}) + "\n" for r in recs]
    (v1 / ANNOTATIONS).write_text("".join(reversed(lines)))
    assert content_hash(v1) == h
    # one changed pixel, or one changed box, changes it
    img = root / recs[1]["image_b"]
    px = np.asarray(Image.open(img)).copy()
    px[0, 0] ^= 1  # flip the lowest bit of one pixel
    Image.fromarray(px).save(img)
    assert content_hash(root) != h
    moved = {**recs[0], "boxes": [[b[0] + (1 if b[0] == 0 else -1), *b[1:]] for b in recs[0]["boxes"]]}
    lines[0] = json.dumps({k: v for k, v in moved.items() if k not in FILE_NAME_KEYS.values()}) + "\n"
    (v1 / ANNOTATIONS).write_text("".join(reversed(lines)))
    assert content_hash(v1) not in (h, content_hash(root))
    (v1 / recs[0]["image_a"]).unlink()
    with pytest.raises(DatasetError, match=r"p-0|00000_a.png.*cannot be read"):
        content_hash(v1)


def test_dig_verify(tmp_path):
    from click.testing import CliRunner
    from dig_core.cli import load_commands

    def verify(*args):
        return CliRunner().invoke(load_commands(), ["verify", "--no-progress", *map(str, args)])

    root = write_dig_dataset(tmp_path / "ds", n=2, size=(48, 32))
    manifest = {k: v for k, v in read_manifest(root).items() if k != "content_hash"}
    atomic_write_text(root / "dataset.json", json.dumps(manifest))  # as an unfinished run leaves it
    r = verify(root)
    assert r.exit_code == 1 and "records no content_hash" in r.output
    h = content_hash(root)
    atomic_write_text(root / "dataset.json", json.dumps({**manifest, "content_hash": h}))
    r = verify(root)
    assert r.exit_code == 0 and f"{h} matches dataset.json" in r.output
    assert verify(root, "--expect", h).exit_code == 0
    r = verify(root, "--expect", "sha256:" + "0" * 64)
    assert r.exit_code == 1 and "differs from the expected" in r.output
    ann = root / METADATA
    ann.write_text(ann.read_text().replace('"stage":"dig-1"', '"stage":"dig-2"', 1))
    r = verify(root)
    assert r.exit_code == 1 and "changed after generation" in r.output and "Traceback" not in r.output


# -- issue 19: one validation for every reader, image paths inside the folder, the umask -------------
@pytest.mark.parametrize("rel", ["../../etc/passwd", "images/../../x.png", "/etc/passwd", "", 3, "C:/x.png"])
def test_image_paths_must_stay_inside_the_folder(tmp_path, rel):
    with pytest.raises(DatasetError, match="image_a"):
        image_path(tmp_path, rel, "metadata.jsonl:1: image_a")


def test_image_paths_inside_the_folder_are_fine(tmp_path):
    assert image_path(tmp_path, "images/x_a.png") == tmp_path / "images" / "x_a.png"
    assert image_path(tmp_path, "images/../images/x_a.png") == tmp_path / "images/../images/x_a.png"


def test_path_escape_is_refused_by_readers(tmp_path):
    root = write_dig_dataset(tmp_path / "ds", n=2, size=(48, 32))
    other = write_dig_dataset(tmp_path / "other", n=1, size=(48, 32))
    ann = root / METADATA
    recs = [json.loads(x) for x in ann.read_text().splitlines()]
    recs[0]["image_a"] = recs[0]["image_a_file_name"] = "../other/" + recs[0]["image_a"]
    recs[1]["image_b"] = recs[1]["image_b_file_name"] = str(other / "images" / "dig-1-00000_b.png")
    ann.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(DatasetError) as e:
        read_annotations(root)
    assert "metadata.jsonl:1: image_a: '../other/images/" in str(e.value)
    assert "metadata.jsonl:2: image_b:" in str(e.value) and "not inside the dataset folder" in str(e.value)
    with pytest.raises(DatasetError, match="not inside the dataset folder"):
        content_hash(root)


def test_scan_finds_every_problem_and_verify_lists_them(tmp_path):
    from click.testing import CliRunner
    from dig_core.cli import load_commands

    root = write_dig_dataset(tmp_path / "ds", n=3, size=(48, 32))
    recs = [json.loads(x) for x in (root / METADATA).read_text().splitlines()]
    recs[1]["boxes"] = [[10, 10, 5, 20]]
    recs[2]["id"] = recs[0]["id"]
    lines = [json.dumps(r) + "\n" for r in recs]
    (root / METADATA).write_text("".join(lines) + '{"id": "\\ud800", "x": NaN}\n' + "{bad\n")
    png = root / recs[0]["image_b"]
    png.write_bytes(png.read_bytes()[:-20])
    records, problems = scan_dataset(root, images=True)
    text = "\n".join(problems)
    assert len(problems) == 5 and [r["id"] for r in records] == []
    for needle in (":1: image_b:", ":2: boxes[0]: [10, 10, 5, 20] is empty or inverted",
                   f":3: id {recs[0]['id']!r} is also on line 1", ":4: corrupt line (NaN is not valid JSON",
                   ":5: corrupt line (Expecting property name enclosed in double quotes at column 2)"):
        assert needle in text, (needle, text)
    r = CliRunner().invoke(load_commands(), ["verify", "--no-progress", str(root)])
    assert r.exit_code == 2 and "5 problems:" in r.output and all(p in r.output for p in problems)
    # duplicate ids alone fail verify, whatever the recorded hash
    root2 = write_dig_dataset(tmp_path / "ds2", n=2, size=(48, 32))
    two = (root2 / METADATA).read_text().splitlines()
    (root2 / METADATA).write_text(two[0] + "\n" + two[0] + "\n")
    manifest = read_manifest(root2)
    atomic_write_text(root2 / "dataset.json", json.dumps({**manifest, "content_hash": content_hash_unchecked(root2)}))
    r = CliRunner().invoke(load_commands(), ["verify", "--no-progress", str(root2)])
    assert r.exit_code == 2 and "is also on line 1" in r.output



def test_readers_list_the_first_problems_and_verify_lists_all(tmp_path):
    from click.testing import CliRunner
    from dig_core.cli import load_commands
    from dig_core.data.dataset import MAX_LISTED

    root = write_dig_dataset(tmp_path / "ds", n=1, size=(48, 32))
    n = MAX_LISTED + 2
    with open(root / METADATA, "a") as f:
        f.write("".join(f"{{bad {i}\n" for i in range(n)))
    with pytest.raises(DatasetError) as e:
        read_annotations(root)
    assert f"{n} problems:" in str(e.value) and "and 2 more (dig verify lists them all)" in str(e.value)
    assert f":{MAX_LISTED + 1}: corrupt line" in str(e.value) and f":{n + 1}: corrupt line" not in str(e.value)
    r = CliRunner().invoke(load_commands(), ["verify", "--no-progress", str(root)])
    assert r.exit_code == 2 and "more" not in r.output
    assert all(f"{METADATA}:{i}: corrupt line" in r.output for i in range(2, n + 2)), r.output

def content_hash_unchecked(root):
    """The hash a run that wrote every line twice would record (what the old `dig verify` accepted)."""
    import hashlib

    h = hashlib.sha256()
    for line in sorted((root / METADATA).read_bytes().splitlines()):
        h.update(line)
    return f"sha256:{h.hexdigest()}"


def test_bad_bytes_and_deep_nesting_name_file_and_line(tmp_path):
    _write(tmp_path, 2)
    ann = tmp_path / METADATA
    ann.write_bytes(ann.read_bytes() + b'{"id": "\xff"}\n')
    with pytest.raises(DatasetError, match=r"metadata.jsonl:3: not UTF-8 text \(byte 0xff at column 9\)"):
        read_annotations(tmp_path)
    ann.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    with pytest.raises(DatasetError, match=r"metadata.jsonl:1: corrupt line \(nested too deeply\)"):
        read_annotations(tmp_path)
    ann.write_text('{"id": "a\tb"}\n')  # a raw tab inside a string
    with pytest.raises(DatasetError, match=r":1: corrupt line \(Invalid control character at column 10\)") as e:
        read_annotations(tmp_path)
    assert "at at" not in str(e.value)
    (tmp_path / "dataset.json").write_bytes(b"\xff{}")
    with pytest.raises(DatasetError, match=r"dataset.json: corrupt manifest \(not UTF-8"):
        read_manifest(tmp_path)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "f.json", "{}")
        _write(tmp_path / "d", 1)
    finally:
        os.umask(old)
    want = 0o666 & ~umask
    for p in (tmp_path / "f.json", tmp_path / "d" / "dataset.json", tmp_path / "d" / CARD,
              tmp_path / "d" / "images" / "p-0_a.png"):
        assert stat.S_IMODE(p.stat().st_mode) == want, p


def test_a_full_disk_while_writing_pairs_is_an_error_line(tmp_path):
    import subprocess
    import sys

    code = ("import resource; resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))\n"
            "from dig_core.data.dataset import DatasetWriter\n"
            "from dig_core.errors import DigError\n"
            f"w = DatasetWriter({str(tmp_path / 'd')!r}).open({{'config': {{}}}})\n"
            "try:\n"
            "    for i in range(100):\n"
            "        w.write_pair({'id': f'p-{i}', 'image_a': f'images/p-{i}_a.png', 'image_b': f'images/p-{i}_b.png',"
            " 'pad': 'x' * 200}, {f'images/p-{i}_a.png': b'a', f'images/p-{i}_b.png': b'b'})\n"
            "except DigError as e:\n"
            "    print('error:', e, type(e).__name__, e.exit_code)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in r.stderr, r.stderr
    assert "error: cannot write" in r.stdout and "metadata.jsonl: File too large OutputError 2" in r.stdout, r.stdout


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_manifests_are_strict_json(tmp_path, bad):
    # what DiG writes as JSON is read by any JSON parser: a non-finite number raises instead of
    # writing NaN / Infinity, and the manifest on disk stays the last good one
    with pytest.raises(ValueError, match="not JSON compliant"):
        dumps_json({"config": {"x": bad}})
    root = tmp_path / "d"
    w = DatasetWriter(root).open({"config": {"x": 1}})
    before = (root / "dataset.json").read_bytes()
    with pytest.raises(ValueError, match="not JSON compliant"):
        w.write_manifest({"config": {"x": bad}})
    w.close()
    assert (root / "dataset.json").read_bytes() == before and json.loads(before)["config"] == {"x": 1}
    assert not [p.name for p in root.iterdir() if p.name.endswith(".tmp")]
    # a manifest that holds one anyway (hand-edited, an older DiG) is refused naming the file
    (root / "dataset.json").write_text('{"format": 2, "config": {"x": NaN}}')
    with pytest.raises(DatasetError, match=r"dataset\.json: corrupt manifest \(NaN is not valid JSON"):
        read_manifest(root)


def test_an_image_linked_out_of_the_folder_is_refused(tmp_path):
    root = write_dig_dataset(tmp_path / "ds", n=1, size=(48, 32))
    other = write_dig_dataset(tmp_path / "other", n=1, size=(48, 32))
    rel = json.loads((root / METADATA).read_text())["image_b"]
    (root / rel).unlink()
    (root / rel).symlink_to(other / rel)  # same size, valid PNG: only where it lives is wrong
    with pytest.raises(DatasetError, match=rf"{METADATA}:1: image_b: .* leads to {other}/.*outside the dataset"):
        read_annotations(root, images=True)
    (root / rel).unlink()
    (root / rel).symlink_to(root / "images" / "copy.png")
    (root / "images" / "copy.png").write_bytes((other / rel).read_bytes())  # a link inside the folder is fine
    assert len(read_annotations(root, images=True)) == 1


def test_the_old_import_path_is_the_same_module():
    import dig_core.data.dataset
    import dig_core.dataset

    assert dig_core.dataset is dig_core.data.dataset
