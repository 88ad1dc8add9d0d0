"""`dig generate`'s driver without Blender: the real planner, samplers, labelling, validity checks,
executor and writer, with a small renderer plugin registered from this test (flat swatches whose
size, color, brightness and outline follow each object's size, color, material and shape).
Checks the format-2 folder, the content hash, resume and the seed namespace.
tests/generate runs the same driver with the real Blender renderer."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from dig_core.cli import load_commands
from dig_core.config import load_config
from dig_core.data.dataset import METADATA, content_hash, read_annotations, read_manifest
from dig_core.generate import REJECTION_REASONS, generate
from dig_core.render import Renderer, RenderResult
from PIL import Image

from tests.helpers import plugin_with, registered

TINY = ["scene.width=96", "scene.height=64", "scene.max_objects=5", "validity.min_visible_pixels=12",
        "curriculum.stages[0].pairs=3", "curriculum.stages[1].pairs=2", "curriculum.stages[2].pairs=2",
        "renderer.name=swatch-test", "generate.workers=1", "generate.threads=1", "generate.progress=false"]


class SwatchRenderer(Renderer):
    """Top view: each object a swatch at its ground position, far objects drawn first."""

    PLUGIN_NAME = "swatch-test"

    def setup(self, vocab, threads):
        self.vocab = vocab

    def render(self, scene):
        h, w, b = scene.height, scene.width, scene.bounds
        img = np.full((h, w, 3), 40, np.uint8)
        inst = np.zeros((h, w), np.int32)
        yy, xx = np.mgrid[0:h, 0:w]
        for o in sorted(scene.objects, key=lambda o: -o.position[1]):
            cx = (o.position[0] + b) / (2 * b) * (w - 1)
            cy = (b - o.position[1]) / (2 * b) * (h - 1)
            r = max(2.0, self.vocab.sizes[o.size] / (2 * b) * w)
            if o.shape == "sphere":
                m = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
            elif o.shape == "cylinder":
                m = (abs(xx - cx) <= r) & (abs(yy - cy) <= 0.6 * r)
            else:
                m = (abs(xx - cx) <= r) & (abs(yy - cy) <= r)
            shade = 1.0 if o.material == "metal" else 0.55
            img[m] = (np.asarray(self.vocab.colors[o.color], float) * shade).astype(np.uint8)
            inst[m] = o.id + 1
        return RenderResult(img, inst)


@pytest.fixture(scope="module")
def swatch():
    with registered(plugin_with(register_renderers=[SwatchRenderer])) as pm:
        yield pm


def _cfg(*extra):
    return load_config(None, [*TINY, *extra], sections=("renderer",))


@pytest.fixture(scope="module")
def baseline(swatch, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "base"
    generate(_cfg(), out)
    return out


def test_generate_writes_format_2_with_its_content_hash(baseline):
    manifest = read_manifest(baseline)
    recs = list(read_annotations(baseline))
    assert manifest["status"] == "complete" and manifest["format_version"] == 2
    assert manifest["counts"]["pairs"] == len(recs) == 7
    assert manifest["content_hash"] == content_hash(baseline)
    assert sorted(manifest["counts"]["rejected"]) == list(REJECTION_REASONS)
    for r in recs:  # every line has the same fields, so datasets infers one schema for any file size
        assert list(r["rejected"]) == list(REJECTION_REASONS)
        assert r["image_a_file_name"] == r["image_a"] and len(r["boxes"]) == len(r["differences"]) >= 1


def test_a_generated_folder_loads_with_datasets(baseline, tmp_path, monkeypatch):
    import datasets

    monkeypatch.chdir(tmp_path)
    train = datasets.load_dataset(str(baseline), split="train", cache_dir=str(tmp_path / "cache"))
    recs = list(read_annotations(baseline))
    assert train["id"] == [r["id"] for r in recs]
    row, rec = train[len(recs) - 1], recs[-1]
    assert row["differences"][0]["box"] == rec["differences"][0]["box"]
    assert row["rejected"] == rec["rejected"]
    for key in ("image_a", "image_b"):
        assert np.array_equal(np.asarray(row[key]), np.asarray(Image.open(baseline / rec[key])))


def test_resume_after_a_crash_mid_line_gives_the_same_dataset(baseline, tmp_path):
    out = tmp_path / "crashed"
    shutil.copytree(baseline, out)
    lines = (out / METADATA).read_bytes().splitlines(keepends=True)
    (out / METADATA).write_bytes(b"".join(lines[:4]) + lines[4][:50])  # killed while writing line 5
    manifest = read_manifest(out)
    manifest.update(status="in_progress")
    del manifest["content_hash"], manifest["counts"]
    (out / "dataset.json").write_text(json.dumps(manifest))
    generate(_cfg(), out)
    assert (out / METADATA).read_bytes() == (baseline / METADATA).read_bytes()
    assert read_manifest(out)["content_hash"] == read_manifest(baseline)["content_hash"] == content_hash(out)


def test_seed_namespace_changes_every_scene(baseline, tmp_path):
    out = tmp_path / "ns"
    generate(_cfg("seed_namespace=held-out", "curriculum.stages[0].pairs=2"), out)
    other = {json.dumps(r["scene_a"]["objects"]) for r in read_annotations(out)}
    base = {json.dumps(r["scene_a"]["objects"]) for r in read_annotations(baseline)}
    assert other and not other & base
    assert read_manifest(out)["config"]["seed_namespace"] == "held-out"


def test_generate_command_prints_the_hash_and_verify_accepts_it(swatch, tmp_path):
    out = tmp_path / "cli"
    runner = CliRunner()
    r = runner.invoke(load_commands(), ["generate", "--out", str(out), "--no-progress", *TINY,
                                        "curriculum.stages[0].pairs=1"])
    assert r.exit_code == 0, r.output
    h = read_manifest(out)["content_hash"]
    assert f"content hash: {h}" in r.output
    r = runner.invoke(load_commands(), ["verify", str(out), "--no-progress", "--expect", h])
    assert r.exit_code == 0 and "matches dataset.json and --expect" in r.output


def test_an_edit_no_scene_allows_is_named_with_the_way_out(swatch, tmp_path):
    """One-object scenes and only `remove` (which never removes a scene's last object): every draw
    fails before a render, and the error says which edit the quota dealt, why, and what to change."""
    out = tmp_path / "one"
    weights = [f"perturbations.weights.{t}=0" for t in ("shape", "color", "size", "material", "add")]
    r = CliRunner().invoke(load_commands(), [
        "generate", "--out", str(out), "--no-progress", *TINY, "scene.min_objects=1", "scene.max_objects=1",
        *weights, "perturbations.weights.remove=1", "validity.max_resamples=3",
        "curriculum.stages[0].pairs=1", "curriculum.stages[1].pairs=0", "curriculum.stages[2].pairs=0"])
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert "edit types ['remove'] (dealt by perturbations.balance: quota)" in r.output, r.output
    assert "none of validity.max_resamples=3 scenes" in r.output and "balance: feasible" in r.output
    assert not (out / "metadata.jsonl").exists() or not (out / "metadata.jsonl").read_text().strip()


# -- screening: mask rules decided on instance maps before the full render --------------------------
class ScreeningSwatch(SwatchRenderer):
    """The swatch renderer with a preview (the same instance map, no image) and counters of full
    renders and previews."""

    PLUGIN_NAME = "swatch-screen-test"

    def setup(self, vocab, threads):
        super().setup(vocab, threads)
        self.full = self.screens = 0

    def render(self, scene):
        self.full += 1
        return super().render(scene)

    def render_preview(self, scene):
        self.screens += 1
        return RenderResult(None, SwatchRenderer.render(self, scene).instances)


@pytest.fixture(scope="module")
def screening(swatch):
    with registered(plugin_with(register_renderers=[ScreeningSwatch])) as pm:
        yield pm


#: knobs that reject on masks (area, location) and on pixels (contrast), many objects (not_visible)
KNOBS = ["renderer.name=swatch-screen-test", "scene.min_objects=5", "scene.max_objects=8",
         "validity.max_resamples=200", "curriculum.stages[0].min_area=0.01", "curriculum.stages[0].location=center",
         "curriculum.stages[1].max_area=0.03", "curriculum.stages[2].min_contrast=30"]


@pytest.mark.parametrize("knobs", [[], KNOBS], ids=["no-knobs", "rejecting-knobs"])
def test_screening_on_or_off_writes_the_same_dataset(screening, tmp_path, knobs):
    """Same metadata.jsonl bytes (labels, measures and rejection counts) and images with
    generate.screen on and off, with and without knobs that reject."""
    runs = {}
    for on in (True, False):
        out = tmp_path / f"screen-{on}"
        generate(_cfg("renderer.name=swatch-screen-test", *knobs, f"generate.screen={on}"), out)
        runs[on] = out
    assert (runs[True] / METADATA).read_bytes() == (runs[False] / METADATA).read_bytes()
    assert read_manifest(runs[True])["content_hash"] == read_manifest(runs[False])["content_hash"]
    if knobs:
        rejected = read_manifest(runs[True])["counts"]["rejected"]
        assert rejected["area"] and rejected["location"] and rejected["contrast"], rejected


def test_a_candidate_failing_a_mask_rule_is_never_rendered_in_full(screening):
    """With screening, full renders = 2 per candidate that passed the mask rules (kept, or rejected
    for no_change / contrast); without it, 2 per candidate that reached the renderer."""
    from dig_core.config import to_plain
    from dig_core.generate import PairMaker, plan

    cfg = _cfg(*KNOBS)
    counts = {}
    for on in (True, False):
        cfg.generate.screen = on
        maker = PairMaker(to_plain(cfg), 1)
        recs = [maker.make(item).record for item in plan(cfg)]
        counts[on] = maker.renderer.full, maker.renderer.screens
    rendered = [r["rejected"] for r in recs]
    pixel = sum(1 + r["no_change"] + r["contrast"] for r in rendered)
    reached = sum(1 + sum(v for k, v in r.items() if k != "edit") for r in rendered)
    assert counts[True] == (2 * pixel, 2 * reached)
    assert counts[False] == (2 * reached, 0)
    assert pixel < reached  # the knobs did reject on masks


def test_the_manifest_records_steering_where_it_changes_the_draws(swatch, tmp_path):
    """generate.steer changes the pairs of a stage with an area / location / occlusion knob: the
    manifest's config records it there (so a resume with the other setting is refused), and
    nowhere else (a dataset without such knobs resumes with either setting, as before)."""
    from dig_core.errors import DatasetError

    plain = tmp_path / "plain"
    generate(_cfg("curriculum.stages[0].pairs=1", "curriculum.stages[1].pairs=0", "curriculum.stages[2].pairs=0"), plain)
    assert "generate" not in read_manifest(plain)["config"]

    knob = ["curriculum.stages[0].pairs=1", "curriculum.stages[1].pairs=0", "curriculum.stages[2].pairs=0",
            "curriculum.stages[0].min_area=0.001"]
    steered = tmp_path / "steered"
    generate(_cfg(*knob), steered)
    assert read_manifest(steered)["config"]["generate"] == {"steer": True}
    before = {p.name: p.read_bytes() for p in steered.iterdir() if p.is_file()}
    with pytest.raises(DatasetError, match="different config"):
        generate(_cfg(*knob, "curriculum.stages[0].pairs=2", "generate.steer=false"), steered)
    assert {p.name: p.read_bytes() for p in steered.iterdir() if p.is_file()} == before
    unsteered = tmp_path / "unsteered"
    generate(_cfg(*knob, "generate.steer=false"), unsteered)
    assert "generate" not in read_manifest(unsteered)["config"]


# -- the plan: items made when read -------------------------------------------------------------------
def _eager_plan(cfg):
    """The plan as earlier versions built it, every item up front (fd21081's plan(), with the
    seed namespace and quota_types of that time): the lazy plan must give the same items."""
    import random

    from dig_core.generate import WorkItem
    from dig_core.seeds import derive_seed

    def quota_types(weights, n, rng):
        names = sorted(t for t, w in weights.items() if w and w > 0)
        total = sum(weights[t] for t in names)
        counts = dict.fromkeys(names, 0)
        out = []
        for i in range(n):
            tie = {t: rng.random() for t in names}
            t = max(names, key=lambda t: ((i + 1) * weights[t] / total - counts[t], weights[t], tie[t]))
            counts[t] += 1
            out.append(t)
        return out

    head = (cfg.seed_namespace, cfg.seed) if cfg.get("seed_namespace") else (cfg.seed,)
    quota = cfg.perturbations.balance == "quota"
    weights = {k: float(v) for k, v in cfg.perturbations.weights.items() if v and v > 0}
    items = []
    for st in cfg.curriculum.stages:
        seeds = [derive_seed(*head, st.name, i) for i in range(st.pairs)]
        if quota or st.k_min == 0:
            ks = [random.Random(derive_seed(s, "k")).randint(st.k_min, st.k_max) for s in seeds]
        else:
            ks = [-1] * len(seeds)
        dealt = iter(quota_types(weights, sum(ks), random.Random(derive_seed(*head, st.name, "types")))
                     if quota else ())
        for i, (seed, k) in enumerate(zip(seeds, ks)):
            types = tuple(next(dealt) for _ in range(k)) if quota else ()
            items.append(WorkItem(len(items), f"{st.name}-{i:05d}", st.name, st.k_min, st.k_max,
                                  st.count_in_prompt, seed, k, types))
    return items


@pytest.mark.parametrize("balance", ["quota", "feasible"])
@pytest.mark.parametrize("namespace", ["", "held-out"])
def test_the_plan_is_the_eager_plan_of_earlier_versions(balance, namespace):
    from dig_core.generate import plan

    cfg = load_config(None, [f"perturbations.balance={balance}", f"seed_namespace={namespace!r}",
                             "perturbations.weights.color=3", "perturbations.weights.size=0.5",
                             "curriculum.stages[0].pairs=40", "curriculum.stages[0].k_min=0",  # control pairs
                             "curriculum.stages[0].k_max=2", "curriculum.stages[0].count_in_prompt=false",
                             "curriculum.stages[1].pairs=0",
                             "curriculum.stages[2].pairs=70"], sections=())
    want = _eager_plan(cfg)
    assert {it.k for it in want} >= {0, 1, 2} and (balance == "feasible") == (want[-1].k == -1)
    assert list(plan(cfg)) == want
    p = plan(cfg)  # read out of order: the last pair first, then backwards, then slices
    assert len(p) == len(p.ids) == 110
    assert [p[j] for j in range(-1, -111, -1)] == want[::-1]
    assert plan(cfg)[45:50] == want[45:50] and plan(cfg)[-3:] == want[-3:] and list(p.ids) == [it.id for it in want]
    assert p.ids[40] == "dig-mix-00000" and p.ids[-1] == "dig-mix-00069" and p.ids[:2] == ["dig-1-00000", "dig-1-00001"]
    for j in (110, -111):
        with pytest.raises(IndexError):
            p[j]
    assert all(it.id in p.ids for it in want)
    for other in ("dig-1-00040", "dig-2-00000", "dig-mix-0001", "dig-mix-000001", "dig-mix-00-01", "dig-1",
                  "dig-mix-\uff10\uff10\uff10\uff10\uff10", "nope-00000", "", 3):
        assert other not in p.ids


class FirstRenderFails(SwatchRenderer):
    PLUGIN_NAME = "first-render-fails-test"

    def render(self, scene):
        raise RuntimeError("the first render")


def test_planning_costs_the_same_for_any_number_of_pairs(monkeypatch, tmp_path):
    """100,000 pairs: the folder is opened and the first pair rendered after one item was made,
    and a handful of seeds derived (an eager plan makes every item and deals every type first)."""
    import dig_core.generate.planning as gen

    made, seeds = [], []
    work_item, derive_seed = gen.WorkItem, gen.derive_seed
    monkeypatch.setattr(gen, "WorkItem", lambda *a: made.append(a[1]) or work_item(*a))
    monkeypatch.setattr(gen, "derive_seed", lambda *a: seeds.append(a) or derive_seed(*a))
    with registered(plugin_with(register_renderers=[FirstRenderFails])), \
            pytest.raises(RuntimeError, match="the first render"):
        generate(_cfg("renderer.name=first-render-fails-test", "curriculum.stages[0].pairs=100000"), tmp_path / "big")
    assert read_manifest(tmp_path / "big")["status"] == "in_progress"
    assert made == ["dig-1-00000"]
    assert len(seeds) < 10, seeds
