"""Throughput of the ``hf`` adapter against calling ``model.generate`` directly on the same prompts
(overhead ratio), the full ``dig eval`` runner (samples -> adapter -> predictions file -> scoring),
and a ``vllm`` row when a GPU and vLLM are present.

    python benchmarks/eval.py [--family qwen3_vl] [--n 16] [--batch 8] [--tokens 16] [--size 240x160]
                              [--model DIR] [--repeat 3] [--threads 1]

Without ``--model`` a tiny random model of ``--family`` is built in a temp folder (no hub access):
its time is dominated by framework overhead, the worst case for an adapter's relative cost. The
prompts are DiG pairs (two images, the dig evaluator's prompt) from a small generated folder.
Every row generates exactly ``--tokens`` new tokens per sample (tiny models never stop early;
``min_new_tokens`` pins real ones).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.helpers: a DiG dataset folder without Blender


def _best_times(fns: dict, repeat: int) -> dict[str, float]:
    """Best wall time of each function; the functions take turns in every repeat, so a load change
    on a shared machine hits all rows alike."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="qwen3_vl", choices=["qwen2_5_vl", "qwen3_vl"])
    ap.add_argument("--model", default=None, help="a local model folder instead of a tiny random one")
    ap.add_argument("--n", type=int, default=16, help="samples (DiG pairs)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=16, help="new tokens per sample")
    ap.add_argument("--size", default="240x160", help="image size WxH")
    ap.add_argument("--repeat", type=int, default=3, help="timed repeats (best is reported)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0 = torch's default)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from dig_core.config import load_config
    from dig_core.models.tiny import build_tiny_vlm
    from dig_eval.adapters.hf import HFAdapter, HFConfig
    from dig_eval.commands import SECTIONS
    from dig_eval.evaluators.dig import DigEvalConfig, DigEvaluator
    from dig_eval.run import evaluate

    from tests.helpers import write_dig_dataset

    tmp = Path(tempfile.mkdtemp(prefix="dig-bench-eval-"))
    model_path = Path(args.model) if args.model else build_tiny_vlm(args.family, tmp / "model", seed=0)
    ds = write_dig_dataset(tmp / "ds", n=args.n, size=(w, h), k=2)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    cfg = HFConfig(path=str(model_path), batch_size=args.batch, max_new_tokens=args.tokens, device=device)
    adapter = HFAdapter(cfg)
    adapter._gen_base["min_new_tokens"] = args.tokens  # same length in every row
    ev = DigEvaluator(DigEvalConfig(dataset=str(ds)))
    ev.bind(load_config(None, [], sections=SECTIONS))
    samples = ev.samples(adapter)
    requests = [s.request for s in samples]
    batches = [requests[i:i + args.batch] for i in range(0, len(requests), args.batch)]
    model, processor = adapter.model, adapter.processor

    def direct() -> None:
        """The least code that answers the same prompts: processor + generate + decode."""
        from PIL import Image

        for batch in batches:
            texts = [adapter.vlp.chat_prompt(r.prompt, len(r.images)) for r in batch]
            images = [Image.open(p).convert("RGB") for r in batch for p in r.images]
            inputs = processor(text=texts, images=images, padding=True, return_tensors="pt").to(device)
            with torch.inference_mode():
                ids = model.generate(**inputs, max_new_tokens=args.tokens, min_new_tokens=args.tokens,
                                     do_sample=False)
            processor.batch_decode(ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)

    def via_adapter() -> None:
        for batch in batches:
            adapter.generate(batch)

    run_dirs = iter(range(10**6))

    def via_runner() -> None:
        evaluate(adapter, ev, tmp / f"run-{next(run_dirs)}", progress=False)

    direct()  # warm-up (kernels, caches)
    times = _best_times({"generate directly": direct, "hf adapter": via_adapter,
                         "dig eval runner (hf)": via_runner}, args.repeat)
    rows = list(times.items())
    t_direct = times["generate directly"]
    adapter.close()

    note = ""
    if torch.cuda.is_available():
        try:
            import vllm  # noqa: F401
            from dig_eval.adapters.vllm import VLLMAdapter, VLLMConfig

            vcfg = VLLMConfig(path=str(model_path), max_new_tokens=args.tokens, gpu_memory_utilization=0.5,
                              max_model_len=4096)
            v = VLLMAdapter(vcfg)
            orig = v.sampling_args
            v.sampling_args = lambda n, rid="": {**orig(n, rid), "min_tokens": args.tokens}  # same length
            v.generate(requests[:2])  # warm-up
            rows.append(("vllm adapter", _best_times({"v": lambda: v.generate(requests)}, args.repeat)["v"]))
            v.close()
        except ImportError:
            note = "vllm row skipped: vllm is not installed (pip install 'dig-eval[vllm]')"
    else:
        note = "vllm row skipped: no CUDA GPU"

    n = len(requests)
    print(f"\n{n} DiG pairs ({w}x{h}, 2 images each), {args.tokens} new tokens each, batch {args.batch}, "
          f"{model_path.name if args.model else 'tiny random ' + args.family} on {device}, best of {args.repeat}")
    print(f"{'path':<24} {'seconds':>9} {'samples/s':>10} {'vs direct':>10}")
    for name, t in rows:
        print(f"{name:<24} {t:>9.3f} {n / t:>10.2f} {t / t_direct:>9.2f}x")
    if note:
        print(note)


if __name__ == "__main__":
    main()
