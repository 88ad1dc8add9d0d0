"""The reward module as OpenRLHF 0.11 runs it: its ``SingleTurnAgentExecutor`` loads the file written
by ``write_reward_file``, builds the query from the exported prompt (processor chat prompt, image pads
expanded, response, ``<|im_end|>``) and calls ``reward_func``; rewards equal ``dig score``'s."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from dig_core.cli import DigGroup
from dig_core.training import REWARD_FIELDS

from tests.helpers import write_dig_dataset
from tests.train_openrlhf.test_export import MAX_LEN, MAX_NEW, SIZE, config, openrlhf_prompt_dataset, rows

torch = pytest.importorskip("torch")
STAGES = [("dig-1", 1, 1, True, 2), ("dig-2", 2, 2, True, 2)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dig_dataset(tmp_path_factory.mktemp("dig") / "ds", size=SIZE, stages=STAGES, seed=5)


# -- a scripted rollout engine: answers with given text through OpenRLHF's real executor ---------------
class ScriptedEngine:
    """Stands in for the vLLM engine only: returns the token ids of a fixed completion."""

    def __init__(self, tokenizer, completion: str, finished: bool = True):
        text = completion + ("<|im_end|>" if finished else "")
        self.token_ids = tokenizer.tokenizer(text, add_special_tokens=False)["input_ids"]
        self.text = text
        self.finished = finished
        self.calls = []

    async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
        self.calls.append((list(prompt_token_ids), multi_modal_data))
        out = SimpleNamespace(token_ids=list(self.token_ids), text=self.text, logprobs=None,
                              finish_reason="stop" if self.finished else "length")
        return SimpleNamespace(outputs=[out])


def rollout(executor, tokenizer, prompt, label, images, completion, finished=True):
    """One OpenRLHF rollout of ``completion``: the executor's output dict and the engine."""
    engine = ScriptedEngine(tokenizer, completion, finished)
    params = SimpleNamespace(max_tokens=MAX_NEW, logprobs=None)
    out = asyncio.run(executor.execute(prompt, label, params, MAX_LEN, tokenizer, engine, images=images))
    return out, engine


def completions_for(label, coords, scale):
    """Known answers for one pair: name -> completion text."""
    w, h = label.width, label.height

    def fmt(boxes):
        if coords == "rel1000":
            conv = [[round(b[0] / w * 1000), round(b[1] / h * 1000), round(b[2] / w * 1000), round(b[3] / h * 1000)]
                    for b in boxes]
        else:  # pixels of the resized input
            conv = [[round(b[0] * scale[0]), round(b[1] * scale[1]), round(b[2] * scale[0]), round(b[3] * scale[1])]
                    for b in boxes]
        return json.dumps(conv)

    gt = [list(b) for b in label.boxes]
    shifted = [[b[0] + (b[2] - b[0]) / 3, b[1], b[2] + (b[2] - b[0]) / 3, b[3]] for b in gt]
    correct = fmt(gt)
    return {
        "correct": f"<think>Both images show the same objects except one.</think>\n<answer>{correct}</answer>",
        "partial": f"<think>maybe</think>{fmt(shifted[:1] + [[0, 0, 5, 5]])}",
        "empty": "",
        "malformed": "<answer>[[12, 13, oops]] no boxes here</answer>",
        "truncated_thinking": f"<think>I think the box is {correct} but let me check again and",
        "special_tokens": f"<think>ok</think><|image_pad|><answer><|image_pad|>{correct}<|vision_end|></answer>",
    }


def dig_score(dataset: Path, tmp_path: Path, coords: str, preds: list[dict]) -> dict[str, float]:
    """``dig score`` (the CLI command) on the same completions: id -> reward."""
    from dig_core.cli.commands.score_cmd import score

    path = tmp_path / f"preds-{coords}.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in preds))
    out = tmp_path / f"scored-{coords}.jsonl"
    res = CliRunner().invoke(DigGroup(commands={"score": score}),
                             ["score", str(path), "--dataset", str(dataset), "--out", str(out),
                              f"task.params.coords={coords}"])
    assert res.exit_code == 0, res.output
    return {r["id"]: r["reward"] for r in map(json.loads, out.read_text().splitlines())}


# -- tests ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_openrlhf_executor_rewards_equal_dig_score(family, dataset, tmp_path, request):
    pytest.importorskip("openrlhf.utils.agent")
    from dig_core.models.vlm import VLProcessor
    from dig_core.training.labels import parse_label
    from dig_train_openrlhf.export import export_dataset
    from dig_train_openrlhf.reward_module import write_reward_file
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    model = request.getfixturevalue("tiny_qwen25_vl" if family == "qwen2_5_vl" else "tiny_qwen3_vl")
    files = export_dataset(config(model), dataset, tmp_path / "data", progress=False)
    run_dir = tmp_path / "run"
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text("reward:\n  params:\n    alpha: 0.1\n")
    shim = write_reward_file(tmp_path / "reward_dig-2.py", cfg_file, run_dir, "dig-2", model=str(model))
    executor = SingleTurnAgentExecutor(remote_rm_url=str(shim))
    assert executor.reward_func is not None

    ds, tokenizer = openrlhf_prompt_dataset(files["dig-2"], model)
    n_pads = 2 * VLProcessor(model).image_tokens(*SIZE)
    results, preds, order, exact = {}, [], [], {}
    for i in range(len(ds)):
        _, prompt, label_str, images = ds[i]
        label = parse_label(label_str)
        assert label.k == 2
        for name, completion in completions_for(label, label.coords, label.scale).items():
            out, engine = rollout(executor, tokenizer, prompt, label_str, images, completion,
                                  finished=name != "truncated_thinking")
            prompt_ids, mm = engine.calls[0]
            assert len(mm["image"]) == 2  # both images went to the engine
            query = tokenizer.decode(out["observation_tokens"], skip_special_tokens=False)
            assert prompt_ids.count(tokenizer.image_token_id) == n_pads  # expanded, as vLLM gets them
            assert query.count("<|image_pad|>") == n_pads + completion.count("<|image_pad|>")
            assert out["label"] == label_str
            reward = out["reward"]
            assert isinstance(reward, torch.Tensor) and reward.shape == (1,)
            # what OpenRLHF's samples generator does with the result
            assert torch.tensor([reward]).shape == (1,)
            assert set(out["extra_logs"]) == {"format", "precision", "recall", "f1", "miou", "reward"}
            assert all(v.flatten()[0].item() == pytest.approx(v.item()) for v in out["extra_logs"].values())
            assert out["scores"].item() == reward.item()
            key = f"{label.id}#{name}"
            order.append(name)
            results[key] = reward.item()
            scale = list(label.scale) if label.scale else None
            preds.append({"id": label.id, "completion": completion, **({"scale": scale} if scale else {})})
        r = {n: results[f"{label.id}#{n}"] for n in ("correct", "partial", "empty", "malformed",
                                                       "truncated_thinking", "special_tokens")}
        assert r["correct"] > 0.9
        assert 0.1 < r["partial"] < r["correct"]
        assert r["empty"] == r["malformed"] == r["truncated_thinking"] == 0.0
        assert r["special_tokens"] == r["correct"]

    # dig score on the same completions (one predictions file per completion kind: one line per id)
    names = ["correct", "partial", "empty", "malformed", "truncated_thinking", "special_tokens"]
    for j, name in enumerate(names):
        chosen = preds[j::len(names)]
        scored = _score_subset(dataset, tmp_path, family, name, chosen)
        assert len(scored) == len(ds)
        for pid, value in scored.items():
            exact[f"{pid}#{name}"] = value
            assert results[f"{pid}#{name}"] == pytest.approx(value, abs=1e-6), (pid, name)  # float32 tensor

    # rewards.jsonl: one line per rollout, in call order, with the full-precision components
    logged = [json.loads(line) for line in (run_dir / "dig-2" / "rewards.jsonl").read_text().splitlines()]
    assert [f"{r['id']}#{n}" for r, n in zip(logged, order)] == list(results)
    assert [r["step"] for r in logged] == list(range(len(results)))
    assert all(set(REWARD_FIELDS) <= set(r) and r["stage"] == "dig-2" for r in logged)
    assert [r["reward"] for r in logged] == [exact[k] for k in results]  # exactly dig score's


def family_coords(family: str) -> str:
    return {"qwen2_5_vl": "pixels", "qwen3_vl": "rel1000"}[family]


def _score_subset(dataset, tmp_path, family, name, preds):
    sub = tmp_path / f"score-{name}"
    sub.mkdir()
    return dig_score(dataset, sub, family_coords(family), preds)


def _label_json(**over):
    from dig_core.training.labels import Label

    base = dict(id="p-1", stage="dig-1", k=1, boxes=((10.0, 10.0, 30.0, 20.0),), width=100, height=50,
                coords="pixels", scale=None)
    base.update(over)
    return Label(**base).to_json()


QUERY_HEAD = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
              + "<|image_pad|>" * 187 + "<|vision_end|><|vision_start|>" + "<|image_pad|>" * 187
              + "<|vision_end|>Find the differences.<|im_end|>\n<|im_start|>assistant\n")


def test_never_raises_on_garbage(tmp_path, caplog):
    from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config

    fn = RewardFunction(load_reward_config(None), tmp_path / "run", "dig-1")
    good = _label_json()
    garbage = [None, "", "{bad json", 123, [], {"id": 5}, '"just a string"', _label_json()[:-1],
               json.dumps({"id": "x", "boxes": "no", "width": 1, "height": 1, "coords": "pixels"}),
               json.dumps({"id": "x", "boxes": [[1, 2, 3]], "width": 1, "height": 1, "coords": "pixels"}),
               json.dumps({"id": "x", "boxes": [], "width": -1, "height": 1, "coords": "pixels"}),
               json.dumps({"id": "x", "boxes": [], "width": 1, "height": 1, "coords": "furlongs"}),
               json.dumps({"id": "x", "boxes": [], "width": 1, "height": 1, "coords": "pixels", "scale": 0})]
    caplog.set_level(logging.WARNING, logger="dig_train_openrlhf.reward")
    for label in garbage:
        out = fn([QUERY_HEAD + "[[10, 10, 30, 20]]<|im_end|>"], ["p"], [label])
        assert out["rewards"].tolist() == [0.0] and out["extra_logs"]["format"].tolist() == [0.0]
    assert "bad label" in caplog.text
    # bad queries with a good label: no marker, not a string, wrong batch shapes
    for query in [None, 42, "no marker at all [[10, 10, 30, 20]]", b"bytes"]:
        assert fn([query], ["p"], [good])["rewards"].tolist() == [0.0]
    assert "no assistant marker" in caplog.text
    assert fn([QUERY_HEAD + "[[10, 10, 30, 20]]"], None, None)["rewards"].tolist() == [0.0]
    assert fn(None, None, None)["rewards"].tolist() == []
    assert fn([QUERY_HEAD + "[[10,10,30,20]]", QUERY_HEAD], ["a", "b"], [good])["rewards"].shape == (2,)
    # and a good one still scores
    assert fn([QUERY_HEAD + "<think>x</think>[[10, 10, 30, 20]]<|im_end|><|endoftext|>"], ["p"],
              [good])["rewards"].tolist() == [1.0]
    logged = [json.loads(line) for line in (tmp_path / "run" / "dig-1" / "rewards.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == list(range(len(logged)))
    assert sum("error" in r for r in logged) == len(garbage) + 4 + 1 + 1
    assert logged[-1]["reward"] == 1.0 and "error" not in logged[-1] and logged[-1]["id"] == "p-1"


def test_pixels_scale_and_rel_conventions(tmp_path):
    from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config

    fn = RewardFunction(load_reward_config(None), None, None)
    # the model saw a 2x-resized image and answered in its pixels
    assert fn([QUERY_HEAD + "[[20, 20, 60, 40]]"], [""], [_label_json(scale=(2.0, 2.0))])["rewards"].item() == 1.0
    assert fn([QUERY_HEAD + "[[100, 200, 300, 400]]"], [""],
              [_label_json(coords="rel1000")])["rewards"].item() == 1.0
    assert fn([QUERY_HEAD + "[[0.1, 0.2, 0.3, 0.4]]"], [""], [_label_json(coords="rel1")])["rewards"].item() == 1.0
    assert not (tmp_path / "dig-1").exists()


def test_response_extraction():
    from dig_train_openrlhf.reward_module import extract_response

    q = QUERY_HEAD + "<think>a</think>[[1, 2, 3, 4]]<|im_end|><|endoftext|><|endoftext|>"
    assert extract_response(q) == "<think>a</think>[[1, 2, 3, 4]]"
    # the last marker wins (the user text cannot fake an earlier answer)
    assert extract_response(QUERY_HEAD + "x" + "<|im_start|>assistant\n" + "y") == "y"
    assert extract_response("no marker") is None
    # a thinking template opens <think> in the generation prompt: a truncated thought stays unfinished
    marker = "<|im_start|>assistant\n<think>\n"
    assert extract_response("u" + marker + "still thinking [[1, 2, 3, 4]]", marker).startswith("<think>\n")
    from dig_core.task import DigTask

    assert DigTask().parse(extract_response("u" + marker + "still [[1, 2, 3, 4]]", marker), 10, 10) == []
    assert DigTask().parse(extract_response("u" + marker + "ok</think>[[1, 2, 3, 4]]", marker), 10, 10) != []


def test_rewards_log_threads_processes_and_torn_tail(tmp_path):
    from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config

    cfg = load_reward_config(None)
    fn = RewardFunction(cfg, tmp_path, "dig-1")
    path = tmp_path / "dig-1" / "rewards.jsonl"
    q, label = QUERY_HEAD + "[[10, 10, 30, 20]]", _label_json()

    def work(n):
        for _ in range(n):
            fn([q], [""], [label])

    threads = [threading.Thread(target=work, args=(25,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=work, args=(30,)) for _ in range(2)]
    for p in procs:
        p.start()
    work(10)
    for p in procs:
        p.join()
        assert p.exitcode == 0
    # a writer killed mid-line leaves a torn tail: cut before the next append
    with open(path, "a") as f:
        f.write('{"step": 999, "stage": "dig-1", "rew')
    fn2 = RewardFunction(cfg, tmp_path, "dig-1")  # a fresh process's view
    fn2([q], [""], [label])
    fn([q], [""], [label])
    lines = path.read_text().splitlines()
    recs = [json.loads(line) for line in lines]  # every line is complete JSON
    assert len(recs) == 200 + 60 + 10 + 2
    assert sorted(r["step"] for r in recs) == list(range(len(recs)))
    assert all(r["reward"] == 1.0 and r["stage"] == "dig-1" and r["id"] == "p-1" for r in recs)
    assert [r["step"] for r in recs] == list(range(len(recs)))  # appended in step order


def test_reward_file_binds_config_and_fails_early(tmp_path, tiny_qwen3_vl):
    pytest.importorskip("openrlhf.utils.agent")
    from dig_core.errors import ConfigError
    from dig_train_openrlhf.reward_module import RewardFunction, bind, write_reward_file
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    cfg = tmp_path / "c.yaml"
    cfg.write_text("reward:\n  params:\n    alpha: 0.5\n    lambda_f1: 1.0\n    lambda_iou: 0.0\n")
    shim = write_reward_file(tmp_path / "r.py", cfg, tmp_path / "run", "dig-1", model=str(tiny_qwen3_vl))
    text = shim.read_text()
    assert str(cfg.resolve()) in text and "stage='dig-1'" in text and "import os" not in text
    ex1 = SingleTurnAgentExecutor(remote_rm_url=str(shim))
    ex2 = SingleTurnAgentExecutor(remote_rm_url=str(shim))
    assert isinstance(ex1.reward_func, RewardFunction) and ex1.reward_func is ex2.reward_func  # one log writer
    assert ex1.reward_func.reward.config.alpha == 0.5 and ex1.reward_func.marker == "<|im_start|>assistant\n"
    # the run's reward weights apply: a wrong box gets only the format part
    got = asyncio.run(ex1._fetch_rewards_via_func([QUERY_HEAD + "[[60, 30, 90, 45]]"], ["p"], [_label_json()]))
    assert got[0]["rewards"].tolist() == [0.5]
    assert got[0]["extra_logs"]["format"].tolist() == [1.0]
    assert json.loads((tmp_path / "run" / "dig-1" / "rewards.jsonl").read_text())["accuracy"] == 0.0
    assert bind(cfg, tmp_path / "run", "dig-1", model=str(tiny_qwen3_vl)) is ex1.reward_func

    bad = tmp_path / "bad.yaml"
    bad.write_text("reward:\n  params:\n    alpha: 7\n")
    with pytest.raises(ConfigError, match="alpha"):
        write_reward_file(tmp_path / "bad.py", bad, tmp_path / "run", "dig-1")
    assert not (tmp_path / "bad.py").exists()


def test_exported_prompt_label_reaches_reward(dataset, tiny_qwen3_vl, tmp_path):
    """Rows written by the export, read by PromptDataset, scored from their own label."""
    from dig_core.training.labels import parse_label
    from dig_train_openrlhf.export import export_dataset
    from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config

    files = export_dataset(config(tiny_qwen3_vl), dataset, tmp_path / "data", progress=False)
    ds, tokenizer = openrlhf_prompt_dataset(files["dig-1"], tiny_qwen3_vl)
    fn = RewardFunction(load_reward_config(None), None, None)
    for i, row in enumerate(rows(files["dig-1"])):
        _, prompt, label, _ = ds[i]
        assert label == row["label"]
        gt = parse_label(label).boxes
        answer = json.dumps([[round(b[0] / SIZE[0] * 1000), round(b[1] / SIZE[1] * 1000),
                              round(b[2] / SIZE[0] * 1000), round(b[3] / SIZE[1] * 1000)] for b in gt])
        assert fn([prompt + answer + "<|im_end|>"], [prompt], [label])["rewards"].item() > 0.9


def test_never_raises_property(tmp_path):
    """Any query text and any JSON-ish label: a reward in [0, 1] for each, a complete log line each."""
    from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    fn = RewardFunction(load_reward_config(None), tmp_path, "dig-1")
    pieces = st.sampled_from(["<|im_start|>assistant\n", "<|im_end|>", "<|image_pad|>", "<think>", "</think>",
                              "<answer>", "</answer>", "[", "]", ",", "10", "-3", "1e308", "nan", "```json\n",
                              '{"bbox_2d": ', "}", " ", "\x00", "é"])
    texts = st.one_of(st.text(max_size=60), st.lists(pieces, max_size=40).map("".join))
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                               lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
                               max_leaves=12)
    labels = st.one_of(json_values, json_values.map(lambda v: json.dumps(v)), st.just(_label_json()),
                       st.fixed_dictionaries({"id": st.text(max_size=5), "boxes": json_values, "width": json_values,
                                              "height": json_values, "coords": st.sampled_from(["pixels", "rel1000"]),
                                              "scale": json_values}).map(json.dumps))

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(texts, labels)
    def check(text, label):
        out = fn([QUERY_HEAD + text], [""], [label])
        value = out["rewards"].tolist()
        assert len(value) == 1 and 0.0 <= value[0] <= 1.0

    check()
    lines = (tmp_path / "dig-1" / "rewards.jsonl").read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)


def test_without_torch_lists(tmp_path):
    """Reward checks work where torch is not installed: the same numbers as lists."""
    from dig_train_openrlhf.reward_module import RewardFunction, load_reward_config

    fn = RewardFunction(load_reward_config(None), None, None)
    with_torch = fn([QUERY_HEAD + "[[10, 10, 30, 20]]", QUERY_HEAD + "[[10, 10, 20, 20]]"], None,
                    [_label_json(), _label_json()])
    fn._torch = None
    plain = fn([QUERY_HEAD + "[[10, 10, 30, 20]]", QUERY_HEAD + "[[10, 10, 20, 20]]"], None,
               [_label_json(), _label_json()])
    assert isinstance(plain["rewards"], list) and plain["rewards"][0] == 1.0
    assert plain["rewards"] == pytest.approx(with_torch["rewards"].tolist())
    assert {k: pytest.approx(v.tolist()) for k, v in with_torch["extra_logs"].items()} == plain["extra_logs"]
