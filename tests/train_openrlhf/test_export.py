"""``dig export-openrlhf``: the export read back by OpenRLHF 0.11's own dataset code, with tiny real
Qwen2.5-VL (pixels of the resized input, per-sample scale) and Qwen3-VL (0-1000) processors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from dig_core.cli import DigGroup
from dig_core.config import load_config
from dig_core.errors import DatasetError, DigError
from dig_core.task import DigTask

from tests.helpers import write_dig_dataset

STAGES = [("dig-1", 1, 1, True, 2), ("dig-2", 2, 2, True, 2), ("dig-mix", 1, 3, False, 2)]
SIZE = (96, 64)
MAX_LEN, MAX_NEW = 600, 100


# -- OpenRLHF's dataset path, as train_ppo_ray / PPOTrainer.prepare_datasets build it -----------------------
class Strategy:
    """What PromptDataset and blending_datasets use of OpenRLHF's DeepSpeed strategy (rank 0)."""

    def __init__(self, args):
        self.args = args

    def print(self, *args, **kwargs):
        pass

    def is_rank_0(self):
        return True


def openrlhf_args(prompt_file: Path, model: Path, extra: tuple[str, ...] = ()):
    """train_ppo_ray's own parser (rebuilt from its source) + its ``hierarchize``, with the data
    flags the export asks for."""
    from dig_train_openrlhf.export import OPENRLHF_DATA_FLAGS
    from dig_train_openrlhf.flags import build_parser
    from openrlhf.utils.config import hierarchize

    argv = ["--actor.model_name_or_path", str(model), "--data.prompt_dataset", str(prompt_file),
            *OPENRLHF_DATA_FLAGS, *extra]
    args = hierarchize(build_parser().parse_args(argv))
    args.use_ms = False  # read by blending_datasets for hub names only
    return args


def openrlhf_prompt_dataset(prompt_file: Path, model: Path):
    """(PromptDataset, processor) exactly as PPOTrainer.prepare_datasets and get_tokenizer build them."""
    pytest.importorskip("openrlhf.datasets.prompts_dataset")
    from openrlhf.datasets import PromptDataset
    from openrlhf.datasets.utils import blending_datasets
    from openrlhf.utils.utils import get_tokenizer

    args = openrlhf_args(prompt_file, model)
    strategy = Strategy(args)
    tokenizer = get_tokenizer(args.actor.model_name_or_path, None, "left", strategy,
                              use_fast=not args.data.disable_fast_tokenizer)
    data = blending_datasets(args.data.prompt_dataset, args.data.prompt_probs, strategy, args.train.seed,
                             max_count=args.data.max_samples, dataset_split=args.data.prompt_split)
    data = data.select(range(min(args.data.max_samples, len(data))))
    return PromptDataset(data, tokenizer, strategy, input_template=args.data.input_template), tokenizer


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dig_dataset(tmp_path_factory.mktemp("dig") / "ds", size=SIZE, stages=STAGES, seed=3)


def config(model: Path, *overrides: str):
    return load_config(None, [f"trainer.params.model={model}", f"trainer.params.max_len={MAX_LEN}",
                              f"trainer.params.max_new_tokens={MAX_NEW}", *overrides], sections=("task",))


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def annotations(dataset: Path) -> dict[str, dict]:
    from dig_core.data.dataset import read_annotations

    return {r["id"]: r for r in read_annotations(dataset)}


# -- tests ---------------------------------------------------------------------------------------------
def test_qwen25_pixels_resized_size_and_scale(dataset, tiny_qwen25_vl, tmp_path):
    from dig_core.models.vlm import VLProcessor
    from dig_core.training.labels import parse_label
    from dig_train_openrlhf.export import export_dataset

    files = export_dataset(config(tiny_qwen25_vl), dataset, tmp_path / "out", progress=False)
    assert list(files) == ["dig-1", "dig-2", "dig-mix"]
    proc = VLProcessor(tiny_qwen25_vl)
    rw, rh = proc.resized_size(*SIZE)
    assert (rw, rh) != SIZE  # the processor really resizes these images
    anns = annotations(dataset)
    task = DigTask(DigTask.Config(coords="pixels"))
    for stage, path in files.items():
        got = rows(path)
        assert len(got) == 2
        for row in got:
            label = parse_label(row["label"])
            ann = anns[label.id]
            assert row["datasource"] == stage == label.stage == ann["stage"]
            assert label.coords == "pixels" and label.scale == proc.scale(*SIZE) == (rw / SIZE[0], rh / SIZE[1])
            assert [list(b) for b in label.boxes] == ann["boxes"] and label.k == len(ann["boxes"])
            assert (label.width, label.height) == SIZE
            assert row["prompt"].startswith("<image><image>")
            text = row["prompt"][len("<image><image>"):]
            assert f"pixels of the {rw}x{rh} image" in text  # the size the model sees, not 96x64
            count_in_prompt = stage != "dig-mix"
            assert text == task.prompt(rw, rh, label.k if count_in_prompt else None)
            assert ("exactly" in text) == count_in_prompt
            assert row["images"] == [str((dataset / ann["image_a"]).resolve()), str((dataset / ann["image_b"]).resolve())]
    manifest = json.loads((tmp_path / "out" / "export.json").read_text())
    assert manifest["coords"] == "pixels" and manifest["family"] == "qwen2_5_vl"
    assert {k: v["pairs"] for k, v in manifest["stages"].items()} == {"dig-1": 2, "dig-2": 2, "dig-mix": 2}


def test_qwen3_rel1000_no_scale(dataset, tiny_qwen3_vl, tmp_path):
    from dig_core.training.labels import parse_label
    from dig_train_openrlhf.export import export_dataset

    files = export_dataset(config(tiny_qwen3_vl), dataset, tmp_path / "out", progress=False)
    task = DigTask(DigTask.Config(coords="rel1000"))
    for stage, path in files.items():
        for row in rows(path):
            label = parse_label(row["label"])
            assert label.coords == "rel1000" and label.scale is None
            assert "0-1000 scale" in row["prompt"] and "pixels" not in row["prompt"]
            assert row["prompt"] == "<image><image>" + task.prompt(*SIZE, label.k if stage != "dig-mix" else None)


def test_explicit_coords_override_family(dataset, tiny_qwen25_vl, tmp_path):
    from dig_core.training.labels import parse_label
    from dig_train_openrlhf.export import export_dataset

    files = export_dataset(config(tiny_qwen25_vl, "trainer.params.coords=rel1"), dataset, tmp_path / "o",
                           stages=["dig-2"], progress=False)
    assert list(files) == ["dig-2"] and not (tmp_path / "o" / "dig-1.jsonl").exists()
    label = parse_label(rows(files["dig-2"])[0]["label"])
    assert label.coords == "rel1" and label.scale is None


def test_prompt_dataset_reads_export(dataset, tiny_qwen25_vl, tiny_qwen3_vl, tmp_path, monkeypatch):
    """OpenRLHF's PromptDataset + processor: two vision blocks, image tokens as counted, label intact,
    image paths that resolve from another working directory."""
    pytest.importorskip("openrlhf.utils.vlm_utils")
    from dig_core.models.vlm import VLProcessor
    from dig_train_openrlhf.export import export_dataset
    from openrlhf.utils.vlm_utils import process_prompt_with_images

    for model in (tiny_qwen25_vl, tiny_qwen3_vl):
        out = tmp_path / model.name
        files = export_dataset(config(model), dataset, out, progress=False)
        manifest = json.loads((out / "export.json").read_text())
        proc = VLProcessor(model)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(exist_ok=True)
        monkeypatch.chdir(elsewhere)
        for stage, path in files.items():
            ds, tokenizer = openrlhf_prompt_dataset(path, model)
            exported = rows(path)
            assert len(ds) == len(exported)
            longest = 0
            for i, row in enumerate(exported):
                datasource, prompt, label, images = ds[i]
                assert datasource == stage
                assert label == row["label"]  # the reward gets the very string the export wrote
                assert images == row["images"]
                assert prompt.count("<|vision_start|><|image_pad|><|vision_end|>") == 2
                assert prompt == proc.chat_prompt(row["prompt"][len("<image><image>"):], 2)
                ids, mm, pil = process_prompt_with_images(tokenizer, prompt, images)
                assert len(pil) == 2 and mm["image_grid_thw"].shape[0] == 2
                assert ids.count(tokenizer.image_token_id) == 2 * proc.image_tokens(*SIZE)
                longest = max(longest, len(ids))
            assert longest <= MAX_LEN - MAX_NEW
        assert longest <= manifest["max_prompt_tokens"]
        monkeypatch.undo()


def test_token_budget_fails_before_writing(dataset, tiny_qwen25_vl, tmp_path):
    from dig_core.models.vlm import TokenBudgetError
    from dig_train_openrlhf.export import export_dataset

    out = tmp_path / "out"
    with pytest.raises(TokenBudgetError) as e:
        export_dataset(config(tiny_qwen25_vl, "trainer.params.max_len=150", "trainer.params.max_new_tokens=60"),
                       dataset, out, progress=False)
    msg = str(e.value)
    assert "max_len - max_new_tokens = 150 - 60 = 90" in msg
    assert "raise max_len" in msg and "lower max_new_tokens" in msg and "max_pixels" in msg
    assert "dig-1-00000" in msg
    assert not out.exists()


def test_cli_export_and_errors(dataset, tiny_qwen3_vl, tmp_path):
    from dig_core.cli import load_commands
    from dig_train_openrlhf.export_cmd import export_openrlhf

    assert load_commands().commands["export-openrlhf"] is export_openrlhf  # registered by the plugin
    group = DigGroup(commands={"export-openrlhf": export_openrlhf})
    base = ["export-openrlhf", str(dataset), "--no-progress", f"trainer.params.model={tiny_qwen3_vl}",
            f"trainer.params.max_len={MAX_LEN}", f"trainer.params.max_new_tokens={MAX_NEW}"]
    res = CliRunner().invoke(group, [*base, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "dig-1: 2 prompts" in res.output and "dig-mix: 2 prompts" in res.output
    first = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.jsonl")}
    # a rerun overwrites with the same bytes
    res = CliRunner().invoke(group, [*base, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0 and first == {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.jsonl")}
    assert not list((tmp_path / "a").glob(".*.tmp"))

    res = CliRunner().invoke(group, [*base, "--out", str(tmp_path / "b"), "--stage", "dig-9"])
    assert res.exit_code != 0 and "error:" in res.output and "dig-9" in res.output and "dig-mix" in res.output
    res = CliRunner().invoke(group, [*base[:2], "--out", str(tmp_path / "c"), "trainer.params.model=/no/such/model"])
    assert res.exit_code != 0 and "error:" in res.output and "/no/such/model" in res.output
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()
    res = CliRunner().invoke(group, ["export-openrlhf", "--help"])
    assert res.exit_code == 0 and "--data.label_key label" in res.output


def test_missing_or_resized_image(tmp_path, tiny_qwen3_vl):
    from dig_train_openrlhf.export import export_dataset
    from PIL import Image

    ds = write_dig_dataset(tmp_path / "ds", n=2, size=SIZE)
    (ds / "images" / "dig-1-00001_b.png").unlink()
    with pytest.raises(DatasetError, match="dig-1-00001_b.png"):
        export_dataset(config(tiny_qwen3_vl), ds, tmp_path / "out", progress=False)
    Image.new("RGB", (50, 50)).save(ds / "images" / "dig-1-00001_b.png")
    with pytest.raises(DatasetError, match="is 50x50 but the line says 96x64"):
        export_dataset(config(tiny_qwen3_vl), ds, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_stage_not_in_curriculum_uses_annotation_or_fails(tmp_path, tiny_qwen3_vl):
    from dig_train_openrlhf.export import export_dataset

    ds = write_dig_dataset(tmp_path / "ds", n=2, size=SIZE, stages=[("extra", 2, 2, False, 2)])
    files = export_dataset(config(tiny_qwen3_vl), ds, tmp_path / "out", progress=False)
    assert "exactly" not in rows(files["extra"])[0]["prompt"]  # the annotation's count_in_prompt
    from dig_core.data.dataset import annotations_path

    lines_file = annotations_path(ds)
    lines = lines_file.read_text().splitlines()
    stripped = []
    for line in lines:
        rec = json.loads(line)
        rec.pop("count_in_prompt", None)
        stripped.append(json.dumps(rec))
    lines_file.write_text("\n".join(stripped) + "\n")
    with pytest.raises(DigError, match="not in curriculum.stages"):
        export_dataset(config(tiny_qwen3_vl), ds, tmp_path / "out2", progress=False)


def test_trainer_name_must_be_openrlhf(tmp_path):
    from dig_core.errors import ConfigError
    from dig_train_openrlhf.export import trainer_params
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"trainer": {"name": "trl", "params": {}}})
    with pytest.raises(ConfigError, match="trainer.name is 'trl'"):
        trainer_params(cfg)
    cfg = OmegaConf.create({"trainer": {"name": None, "params": {"max_len": "many"}}})
    with pytest.raises(ConfigError, match="max_len"):
        trainer_params(cfg)


def test_pixel_limits_that_openrlhf_would_not_see_are_refused(dataset, tiny_qwen25_vl, tmp_path):
    """OpenRLHF and vLLM load the processor saved in the model folder: limits that resize the images
    differently would make prompts and labels describe images the policy never sees."""
    from dig_core.errors import ConfigError
    from dig_core.models.vlm import VLProcessor
    from dig_train_openrlhf.export import export_dataset

    saved = VLProcessor(tiny_qwen25_vl)
    smaller = saved.resized_size(*SIZE)[0] * saved.resized_size(*SIZE)[1] // 4
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="resizes it to") as e:
        export_dataset(config(tiny_qwen25_vl, f"trainer.params.max_pixels={smaller}"), dataset, out, progress=False)
    assert "preprocessor_config.json" in str(e.value)
    assert not out.exists()
    # the saved processor's own limits are accepted
    export_dataset(config(tiny_qwen25_vl, f"trainer.params.max_pixels={saved.max_pixels}"), dataset, out,
                   progress=False)
