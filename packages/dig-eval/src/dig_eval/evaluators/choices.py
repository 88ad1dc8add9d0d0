"""Multiple-choice answers: the options block of a prompt and the letter a model chose, rule based.

:func:`extract_choice` follows VLMEvalKit's ``can_infer`` (the rule-based step that HR-Bench and
MMBench use before any GPT fallback; we never call a GPT):

1. take dig-core's answer region (thinking models: the text after ``</think>``);
2. replace ``.()[],:;!*#{}`` by spaces and split into words; if exactly one option letter appears as a
   word, that is the answer;
3. otherwise, if exactly one option's text appears (case-insensitive) in the answer, that option;
4. otherwise the answer is unreadable (None, scored wrong).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dig_core.task import answer_region

_STRIP = str.maketrans({c: " " for c in ".()[],:;!*#{}"})
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#: the instruction lmms-eval's multiple-choice tasks append (MMVP, V*, ...)
LETTER_INSTRUCTION = "Answer with the option's letter from the given choices directly."


def extract_choice(text: str, options: Mapping[str, str]) -> str | None:
    """The option letter chosen in ``text`` (keys of ``options``: ``A``, ``B``, ...) or None."""
    region = answer_region(text or "")
    words = region.translate(_STRIP).split()
    found = [letter for letter in options if letter in words]
    if len(found) == 1:
        return found[0]
    if not found:
        low = region.lower()
        hits = [k for k, v in options.items() if str(v).strip() and str(v).strip().lower() in low]
        if len(hits) == 1:
            return hits[0]
    return None


def options_block(options: Mapping[str, str]) -> str:
    """``A. first\\nB. second`` ..."""
    return "\n".join(f"{k}. {v}" for k, v in options.items())


def letters(texts: list[str]) -> dict[str, str]:
    """``{"A": texts[0], "B": texts[1], ...}``."""
    return {_LETTERS[i]: t for i, t in enumerate(texts)}


_PAREN_OPTION = re.compile(r"\(([A-Za-z])\)\s*([^()]+?)(?=\s*\([A-Za-z]\)|$)", re.S)


def parenthesised_options(text: str) -> dict[str, str]:
    """Options written ``(A) red (B) blue`` (or ``(a) ...``) as ``{"A": "red", "B": "blue"}``."""
    return {m.group(1).upper(): m.group(2).strip() for m in _PAREN_OPTION.finditer(text)}


def letter_of(answer: str) -> str:
    """A ground-truth answer written ``(A)``, ``A``, ``(a)`` or ``a.`` as ``A``."""
    s = answer.strip().strip("().").strip()
    return s.upper()
