"""``python tests/train_trl/sabotage.py KIND ARGS...``: ``dig ARGS...`` with one deliberate wiring
error of the ``trl`` trainer, the learning test's negative controls (tests/train_trl/test_trl_learning.py):

* ``labels``: each pair's label (boxes and count) is attached to the next pair's images;
* ``coords``: the boxes are given in the wrong coordinate convention (pixels where the model's
  convention is 0-1000: the SFT targets and the GRPO reward's labels both use it);
* ``reward-sign``: GRPO is handed the negated reward (the logged rewards stay the true ones).

Only the test's own process is patched; the installed packages are untouched.
"""

from __future__ import annotations

import sys
from dataclasses import replace

KINDS = ("labels", "coords", "reward-sign")


def apply(kind: str) -> None:
    import dig_train_trl.data as data
    import dig_train_trl.reward as reward

    load_rows = data.load_rows
    if kind == "labels":
        def shifted(*args, **kwargs):
            return {stage: [replace(r, text=rows[(i + 1) % len(rows)].text, label=rows[(i + 1) % len(rows)].label)
                            for i, r in enumerate(rows)] for stage, rows in load_rows(*args, **kwargs).items()}
        data.load_rows = shifted
    elif kind == "coords":
        def in_pixels(*args, **kwargs):
            # the label's boxes stay in pixels and its image size claims 1000 x 1000: rel1000 == pixels
            return {stage: [replace(r, label=replace(r.label, width=1000.0, height=1000.0)) for r in rows]
                    for stage, rows in load_rows(*args, **kwargs).items()}
        data.load_rows = in_pixels
    elif kind == "reward-sign":
        score = reward.DigRewardFunc.__call__
        reward.DigRewardFunc.__call__ = lambda self, *a, **k: [-r for r in score(self, *a, **k)]
    else:
        raise SystemExit(f"unknown sabotage {kind!r}; allowed: {list(KINDS)}")


if __name__ == "__main__":
    apply(sys.argv[1])
    from dig_core.cli import main

    sys.argv = ["dig", *sys.argv[2:]]
    main()
