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


# an option runs from its "(X)" to the next "(X)" or the end of its line, never across lines
_PAREN_OPTION = re.compile(r"\(([A-Za-z])\)[ \t]*([^()\n]*?)[ \t]*(?=\([A-Za-z]\)|\n|$)")


def split_choices(text: str) -> tuple[str, dict[str, str], str]:
    """``(question, options, trailer)`` of a question written with ``(A) red (B) blue`` options (on one
    line or one per line; ``(a)`` too): the text before the first option, ``{"A": "red", "B": "blue"}``
    (each option ends at the next option or the end of its line), and the lines after the last
    option's line (V*'s trailing :data:`LETTER_INSTRUCTION`; ``""`` when there are none)."""
    found = list(_PAREN_OPTION.finditer(text))
    if not found:
        return text.strip(), {}, ""
    options = {m.group(1).upper(): m.group(2).strip() for m in found}
    return text[:found[0].start()].strip(), options, text[found[-1].end():].strip()


def parenthesised_options(text: str) -> dict[str, str]:
    """Options written ``(A) red (B) blue`` (or ``(a) ...``) as ``{"A": "red", "B": "blue"}``
    (:func:`split_choices`)."""
    return split_choices(text)[1]


def letter_of(answer: str) -> str:
    """A ground-truth answer written ``(A)``, ``A``, ``(a)`` or ``a.`` as ``A``."""
    s = answer.strip().strip("().").strip()
    return s.upper()
