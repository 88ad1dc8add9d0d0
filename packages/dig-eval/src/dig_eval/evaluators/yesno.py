"""Yes/no (and true/false) answer extraction, rule based (no LLM judge).

All rules first take the answer region of dig-core's parser (``dig_core.task.answer_region``: the
text after ``</think>``, inside ``<answer>`` / a code fence), so thinking models are read the same way
everywhere.

- :func:`pope_answer` is POPE's official rule (RUCAIBox/POPE ``evaluate.py``): keep the text before the
  first ``.``, drop commas, split on spaces; ``no`` if a word is ``No``, ``no`` or ``not``, else
  ``yes`` (so an answer without any of those words counts as *yes*).
- :func:`yes_no` (HallusionBench) follows VLMEvalKit's ``YOrN_Extraction``: lower-case, punctuation
  to spaces, words; ``yes`` if ``yes`` is a word and ``no`` is not, ``no`` in the mirrored case,
  otherwise ``None`` (unclear).
- :func:`true_false` (VSR) is :func:`yes_no` with ``true``/``false`` accepted as ``yes``/``no``.
"""

from __future__ import annotations

import re

from dig_core.task import answer_region

_PUNCT = re.compile(r"[^\w\s]")


def pope_answer(text: str) -> str:
    """``"yes"`` or ``"no"`` by POPE's official rule (never unclear)."""
    text = answer_region(text or "")
    if "." in text:
        text = text.split(".")[0]
    words = text.replace(",", "").split(" ")
    words = [w.strip() for w in words]
    return "no" if ("No" in words or "not" in words or "no" in words) else "yes"


def _words(text: str) -> set[str]:
    return set(_PUNCT.sub(" ", answer_region(text or "").lower()).split())


def yes_no(text: str) -> str | None:
    """``"yes"``, ``"no"`` or None when the answer says neither or both."""
    w = _words(text)
    yes, no = "yes" in w, "no" in w
    if yes and not no:
        return "yes"
    if no and not yes:
        return "no"
    return None


def true_false(text: str) -> bool | None:
    """True / False / None (unclear) for a true-or-false (or yes-or-no) question."""
    w = _words(text)
    pos = "true" in w or "yes" in w
    neg = "false" in w or "no" in w
    if pos and not neg:
        return True
    if neg and not pos:
        return False
    return None
