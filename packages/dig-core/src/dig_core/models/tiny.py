"""Tiny Qwen-VL models with random weights, built locally with no hub access (``dig tiny-model``).

They have the real architecture, processor, tokenizer pipeline and chat template of their family,
so code that handles a real Qwen2.5-VL / Qwen3-VL (resize, image tokens, prompt, generate, export,
reward) can be tested on CPU in seconds. Their answers are random text, not boxes.

What is built (see docs/models.md):

- a byte-level BPE tokenizer trained with ``tokenizers`` on a small built-in corpus (DiG prompts,
  numbers, box lists, ``<think>``), with Qwen's pre-tokenizer regex and special tokens, saved as
  ``Qwen2Tokenizer``;
- a Qwen-style chat template (content in the order given; ``<|im_start|>assistant\\n`` starts the
  answer);
- ``Qwen2VLImageProcessor`` (patch 14 for Qwen2.5-VL; patch 16 and mean/std 0.5 for Qwen3-VL), the
  family's video processor and processor class;
- ``Qwen2_5_VLForConditionalGeneration`` / ``Qwen3VLForConditionalGeneration`` with hidden size 64,
  2 text layers and vision depth 2, initialised from ``seed``.

transformers, tokenizers, torch and torchvision are imported only when a model is built (the
``dig-core[hf]`` extra).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from dig_core.errors import DigError

#: families :func:`build_tiny_vlm` can build
TINY_FAMILIES = ("qwen2_5_vl", "qwen3_vl")

#: vision patch size per family; the image processor's resize factor is patch × merge (2)
PATCH_SIZE = {"qwen2_5_vl": 14, "qwen3_vl": 16}
MERGE_SIZE = 2


@dataclass(frozen=True)
class ModelSize:
    """The dimensions of a tiny model (``dig tiny-model --size``); docs/models.md has the table."""

    #: text hidden size, MLP size, layers, query heads, key/value heads (head size = hidden / heads)
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    #: vision tower: hidden size, MLP size, blocks, heads
    vision_hidden: int
    vision_intermediate: int
    vision_depth: int
    vision_heads: int
    #: vision patch size (None: the family's real one, PATCH_SIZE)
    patch: int | None = None
    #: text RoPE base (None: the family's real one)
    rope_theta: float | None = None
    #: Qwen3-VL's learned vision position grid (num_position_embeddings = side²)
    position_grid: int = 16
    #: (min, max) merged image tokens the processor resizes to
    tokens: tuple[int, int] = (4, 256)
    #: start Qwen3-VL's learned vision positions from a 2D sine-cosine grid of this standard
    #: deviation instead of N(0, 0.02) noise (None: the library's init); from scratch, noise that
    #: small leaves the patches' positions unreadable for thousands of steps
    sincos_positions: float | None = None


#: ``test``: the smallest model of the real architecture, for tests and smoke runs (random text);
#: ``nano``: a few million parameters, sized to *learn* DiG on a CPU (docs/training.md, DiG-nano):
#: patch 8 so a 192x128 image is 12x8 merged tokens, a RoPE base suited to a few hundred positions,
#: and Qwen3-VL's learned absolute vision positions (which a model trained from scratch needs to
#: tell where a patch is).
SIZES: dict[str, ModelSize] = {
    "test": ModelSize(hidden=64, intermediate=128, layers=2, heads=2, kv_heads=1, vision_hidden=64,
                      vision_intermediate=128, vision_depth=2, vision_heads=2),
    "nano": ModelSize(hidden=128, intermediate=384, layers=4, heads=4, kv_heads=2, vision_hidden=96,
                      vision_intermediate=192, vision_depth=3, vision_heads=3, patch=8, rope_theta=10000.0,
                      position_grid=24, tokens=(4, 256), sincos_positions=0.5),
}

#: target vocabulary of the BPE part (special tokens come on top)
BPE_VOCAB = 1500

SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)
#: added (non-special) tokens, as in the real tokenizers
ADDED_TOKENS = {
    "qwen2_5_vl": ("<tool_call>", "</tool_call>"),
    "qwen3_vl": ("<tool_call>", "</tool_call>", "<think>", "</think>"),
}

def chat_template(family: str) -> str:
    """The chat template of a tiny ``family`` model (``chat_templates/<family>.jinja``): Qwen2.5-VL's
    with its default system prompt; Qwen3-VL's instruct one without tools or system prompt."""
    return resources.files("dig_core.models").joinpath(f"chat_templates/{family}.jinja").read_text()

WORDS = (
    "the of and to in is that it for on with as was at by this be from are or have an they which one you were "
    "all we there can had has their been if more when will would who so no about what up out them some time "
    "into only other could new these two may first then do any like my now over such our man me even most made "
    "after also did many before must through back years where much your way well down should because each just "
    "those people how too little state good very make world still own see men work long get here between both "
    "life being under never day same another know while last might us great old year off come since against go "
    "came right used take three left right top bottom middle front behind near far above below inside outside "
    "image picture photo scene camera light shadow color colour shape size material object objects box boxes "
    "bounding coordinate coordinates pixel pixels width height difference differences changed change added "
    "removed moved missing extra count number question answer option options choose correct wrong true false "
    "small large big tiny huge red green blue yellow gray grey brown purple cyan black white orange pink metal "
    "rubber metallic matte shiny cube sphere cylinder cone ball block table chair person car dog cat bird tree "
    "sign text word letter read written describe describing explain reasoning think thinking step first second "
    "third finally therefore however compare comparing identical nearly same both images region area located "
    "position relative absolute scale resized original visual grounding detect detection find locate highlight "
    "mark spot please provide output format list json label labels category score reward accuracy precision "
    "recall model train training evaluate evaluation benchmark dataset sample samples prompt response assistant "
    "user system helpful tool call function result value values zero half quarter percent degree degrees angle"
)

HF_EXTRA_HINT = "pip install 'dig-core[hf]' (and torch + torchvision for your platform)"


def require_hf(what: str) -> None:
    """Raise a :class:`DigError` naming the extra to install when transformers / torchvision / torch
    / tokenizers cannot be imported."""
    import importlib

    for mod in ("torch", "torchvision", "tokenizers", "transformers"):
        try:
            importlib.import_module(mod)
        except Exception as e:  # noqa: BLE001 - a broken install (e.g. torchvision/torch mismatch) too
            raise DigError(f"{what} needs {mod}, which cannot be imported ({type(e).__name__}: {e}); "
                           f"install it with: {HF_EXTRA_HINT}") from None


# -- tokenizer ---------------------------------------------------------------------------------------
def corpus() -> list[str]:
    """The built-in training text: DiG prompts in every coordinate convention, numbers, box lists,
    thinking, chat markup and some plain English."""
    import random

    from dig_core.spec import Vocabulary
    from dig_core.task import COORDS, DigTask, DigTaskConfig

    texts: list[str] = []
    for coords in COORDS:
        task = DigTask(DigTaskConfig(coords=coords))
        for k in (None, 1, 2, 3, 4):
            texts.append(task.prompt(480, 320, k))
            texts.append(task.prompt(448, 308, k))
    rng = random.Random(1234)
    texts.append(" ".join(str(i) for i in range(1001)))
    texts.append(", ".join(str(i) for i in range(0, 1001, 7)))
    for _ in range(300):
        n = rng.randint(1, 4)
        boxes = []
        for _ in range(n):
            x0, y0 = rng.randint(0, 900), rng.randint(0, 900)
            boxes.append(f"[{x0}, {y0}, {x0 + rng.randint(5, 99)}, {y0 + rng.randint(5, 99)}]")
        answer = "[" + ", ".join(boxes) + "]"
        texts.append(answer)
        texts.append(f"<think>\nI compare the two images object by object. {n} objects differ.\n</think>\n\n{answer}")
        texts.append(f'```json\n[{{"bbox_2d": {boxes[0]}, "label": "difference"}}]\n```')
        texts.append(f"<answer>{answer}</answer>")
    vocab = Vocabulary.default()
    for shape in vocab.shapes:
        for color in vocab.colors:
            texts.append(f"The {color} {shape} on the left was changed: it is now a different object. "
                         f"Is there a {color} {shape}? Yes. No.")
    for size in vocab.sizes:
        for material in vocab.materials:
            texts.append(f"A {size} {material} object was added, removed or moved.")
    texts.append("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                 "Picture 1: Picture 2: Describe the differences.<|im_end|>\n<|im_start|>assistant\n")
    words = WORDS.split()
    for _ in range(400):
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(6, 16)))
        texts.append(sentence[0].upper() + sentence[1:] + rng.choice((".", "?", "!", ":", ";")))
    texts.append(" ".join(w.capitalize() for w in words))
    texts.append(" ".join(w.upper() for w in words[:120]))
    texts.append("Please answer the question with a single word or phrase. Answer: yes or no? A, B, C or D.")
    return texts


def train_tokenizer(family: str, vocab_size: int = BPE_VOCAB):
    """A ``Qwen2Tokenizer`` whose BPE vocabulary is trained on :func:`corpus` (deterministic)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import AddedToken, Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False, special_tokens=[],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=1)
    tok.train_from_iterator(corpus(), trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    # <|endoftext|> first (the id right after the BPE vocabulary, as in the real tokenizers)
    qtok = Qwen2Tokenizer(vocab=model["vocab"], merges=merges, unk_token=None, bos_token=None,
                          eos_token="<|endoftext|>", pad_token="<|endoftext|>", errors="replace",
                          model_max_length=32768, clean_up_tokenization_spaces=False, split_special_tokens=False)
    qtok.add_special_tokens({"extra_special_tokens": list(SPECIAL_TOKENS[1:])})
    qtok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_TOKENS[family]])
    qtok.eos_token = "<|im_end|>"  # the instruct models' end of turn
    return qtok


# -- processor ---------------------------------------------------------------------------------------
def patch_size(family: str, size: str = "test") -> int:
    """The vision patch size of a ``size`` model of ``family``."""
    return SIZES[size].patch or PATCH_SIZE[family]


def default_pixels(family: str, size: str = "test") -> tuple[int, int]:
    """Default (min_pixels, max_pixels) of a tiny model: its size's merged-token bounds × factor²."""
    f = patch_size(family, size) * MERGE_SIZE
    lo, hi = SIZES[size].tokens
    return lo * f * f, hi * f * f


def build_processor(family: str, tokenizer: Any, min_pixels: int, max_pixels: int, size: str = "test"):
    from transformers import Qwen2VLImageProcessor

    patch = patch_size(family, size)
    pixels = {"shortest_edge": int(min_pixels), "longest_edge": int(max_pixels)}
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor, Qwen2VLVideoProcessor

        image = Qwen2VLImageProcessor(size=dict(pixels), patch_size=patch, temporal_patch_size=2, merge_size=MERGE_SIZE)
        video = Qwen2VLVideoProcessor(size=dict(pixels), patch_size=patch, temporal_patch_size=2, merge_size=MERGE_SIZE)
        cls = Qwen2_5_VLProcessor
    else:
        from transformers import Qwen3VLProcessor, Qwen3VLVideoProcessor

        half = [0.5, 0.5, 0.5]
        image = Qwen2VLImageProcessor(size=dict(pixels), patch_size=patch, temporal_patch_size=2, merge_size=MERGE_SIZE,
                                      image_mean=half, image_std=half)
        video = Qwen3VLVideoProcessor(size=dict(pixels), patch_size=patch, temporal_patch_size=2, merge_size=MERGE_SIZE,
                                      image_mean=half, image_std=half)
        cls = Qwen3VLProcessor
    return cls(image_processor=image, tokenizer=tokenizer, video_processor=video,
               chat_template=chat_template(family))


# -- model -------------------------------------------------------------------------------------------
def _mrope_section(half: int, family: str) -> list[int]:
    """Split ``head_dim / 2`` rotary frequencies over (t, h, w) like the real models (t gets the
    rest: Qwen2.5-VL [16, 24, 24] of 64, Qwen3-VL [24, 20, 20] of 64)."""
    hw = half * (3 if family == "qwen2_5_vl" else 5) // (8 if family == "qwen2_5_vl" else 16)
    return [half - 2 * hw, hw, hw]


def build_config(family: str, tokenizer: Any, size: str = "test"):
    """A config of the family's architecture with ``size``'s dimensions whose token ids are the
    tokenizer's."""
    d = SIZES[size]
    ids = {name: tokenizer.convert_tokens_to_ids(tok) for name, tok in (
        ("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>"))}
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    # head size 32 in both sizes (text and vision): small, yet a size GPU attention kernels (vLLM) support
    head_dim = d.hidden // d.heads
    text = dict(vocab_size=len(tokenizer), hidden_size=d.hidden, intermediate_size=d.intermediate,
                num_hidden_layers=d.layers, num_attention_heads=d.heads, num_key_value_heads=d.kv_heads,
                max_position_embeddings=4096, rms_norm_eps=1e-6, bos_token_id=pad, eos_token_id=eos,
                pad_token_id=pad, tie_word_embeddings=False)
    mrope = _mrope_section(head_dim // 2, family)
    patch = patch_size(family, size)
    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        text.update(rope_parameters={"rope_type": "default", "rope_theta": d.rope_theta or 1000000.0,
                                     "mrope_section": mrope},
                    use_sliding_window=False, max_window_layers=d.layers)
        vision = dict(depth=d.vision_depth, hidden_size=d.vision_hidden, intermediate_size=d.vision_intermediate,
                      num_heads=d.vision_heads, out_hidden_size=d.hidden, patch_size=patch,
                      spatial_merge_size=MERGE_SIZE, temporal_patch_size=2, window_size=patch * MERGE_SIZE * 4,
                      fullatt_block_indexes=[d.vision_depth - 1], tokens_per_second=2)
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)
    from transformers import Qwen3VLConfig

    # interleaved mrope, as the real Qwen3-VL
    text.update(head_dim=head_dim, attention_bias=False,
                rope_parameters={"rope_type": "default", "rope_theta": d.rope_theta or 5000000.0,
                                 "mrope_section": mrope, "mrope_interleaved": True})
    vision = dict(depth=d.vision_depth, hidden_size=d.vision_hidden, intermediate_size=d.vision_intermediate,
                  num_heads=d.vision_heads, out_hidden_size=d.hidden, patch_size=patch,
                  spatial_merge_size=MERGE_SIZE, temporal_patch_size=2,
                  num_position_embeddings=d.position_grid ** 2,
                  deepstack_visual_indexes=list(range(1, d.vision_depth, 2)) or [0],
                  hidden_act="gelu_pytorch_tanh")
    return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)


def sincos_grid(side: int, dim: int):
    """A ``(side², dim)`` 2D sine-cosine position table (half the channels for rows, half for
    columns; MAE's ``get_2d_sincos_pos_embed``), row-major like Qwen3-VL's ``pos_embed``."""
    import torch

    quarter = dim // 4
    freq = 1.0 / (10000 ** (torch.arange(quarter, dtype=torch.float64) / max(1, quarter)))
    pos = torch.arange(side, dtype=torch.float64)[:, None] * freq[None]  # (side, quarter)
    one = torch.cat([pos.sin(), pos.cos()], dim=1)  # (side, 2 * quarter)
    rows = one[:, None, :].expand(side, side, -1)
    cols = one[None, :, :].expand(side, side, -1)
    table = torch.cat([rows, cols], dim=2).reshape(side * side, -1)
    if table.shape[1] < dim:
        table = torch.cat([table, torch.zeros(side * side, dim - table.shape[1], dtype=table.dtype)], dim=1)
    return table


def build_model(family: str, config: Any, seed: int, size: str = "test"):
    import torch

    if family == "qwen2_5_vl":
        from transformers import Qwen2_5_VLForConditionalGeneration as cls
    else:
        from transformers import Qwen3VLForConditionalGeneration as cls
    torch.manual_seed(seed)
    model = cls(config)
    std = SIZES[size].sincos_positions
    embed = getattr(getattr(model.model, "visual", None), "pos_embed", None)
    if std is not None and embed is not None:
        side = int(config.vision_config.num_position_embeddings ** 0.5)
        table = sincos_grid(side, embed.weight.shape[1])
        with torch.no_grad():
            embed.weight.copy_((table / table.std() * std).to(embed.weight.dtype))
    model.eval()
    return model


def _fix_tokenizer_class(folder: Path) -> None:
    """transformers 5.x saves ``TokenizersBackend``; the real models (and older readers) name
    ``Qwen2Tokenizer``."""
    path = folder / "tokenizer_config.json"
    cfg = json.loads(path.read_text())
    cfg["tokenizer_class"] = "Qwen2Tokenizer"
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def build_tiny_vlm(family: str, out_dir: str | Path, seed: int = 0, min_pixels: int | None = None,
                   max_pixels: int | None = None, overwrite: bool = False, size: str = "test") -> Path:
    """Build a tiny random ``family`` model of ``size`` (:data:`SIZES`) into ``out_dir`` and return
    its path.

    The folder loads with ``AutoProcessor.from_pretrained`` / ``AutoModelForImageTextToText.
    from_pretrained`` offline. Same ``seed`` → same weights and files. ``min_pixels`` /
    ``max_pixels`` set the image processor's resize bounds (default: the size's merged-token bounds).
    The folder appears complete or not at all; an existing non-empty ``out_dir`` is an error unless
    ``overwrite``.
    """
    if family not in TINY_FAMILIES:
        raise DigError(f"unknown tiny model family {family!r}; allowed: {list(TINY_FAMILIES)}")
    if size not in SIZES:
        raise DigError(f"unknown tiny model size {size!r}; allowed: {list(SIZES)}")
    dmin, dmax = default_pixels(family, size)
    min_pixels = dmin if min_pixels is None else int(min_pixels)
    max_pixels = dmax if max_pixels is None else int(max_pixels)
    if min_pixels < 1 or max_pixels < min_pixels:
        raise DigError(f"need 1 <= min_pixels <= max_pixels, got min_pixels={min_pixels}, max_pixels={max_pixels}")
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise DigError(f"{out} exists and is not empty; choose a new folder, or overwrite it (--overwrite)")
    require_hf("building a tiny model")
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    tokenizer = train_tokenizer(family)
    processor = build_processor(family, tokenizer, min_pixels, max_pixels, size)
    config = build_config(family, tokenizer, size)
    model = build_model(family, config, seed, size)
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        eos_token_id=[config.text_config.eos_token_id, config.text_config.pad_token_id],
        pad_token_id=config.text_config.pad_token_id, bos_token_id=config.text_config.bos_token_id,
        do_sample=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        with torch.no_grad():
            model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        _fix_tokenizer_class(tmp)
        (tmp / "README.md").write_text(
            f"# tiny random {family} ({size})\n\nBuilt by `dig tiny-model --family {family} --size {size} "
            f"--seed {seed}` (dig_core.models.tiny): random weights. min_pixels={min_pixels}, "
            f"max_pixels={max_pixels}.\n")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
