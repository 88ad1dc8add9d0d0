"""Dataset section: what the run trained on — pairs per stage, K and edit types, a contact sheet of
the first pairs of every stage (ground-truth boxes drawn) and the per-stage difficulty histograms."""

from __future__ import annotations

from collections import Counter

from dig_core.data.dataset import read_annotations, read_manifest
from dig_core.visualize import contact_sheet, write_difficulty_histograms

from dig_eval.run_report.context import Context
from dig_eval.run_report.html import Section, info_list

#: pairs drawn per stage in the contact sheet, and at most in all
PER_STAGE = 2
MAX_PAIRS = 8
SHEET = "dataset-sheet.png"
HISTOGRAMS = "dataset-difficulty.png"


def build(ctx: Context) -> Section:
    sec = Section("dataset", "Dataset")
    data = ctx.parts.data
    if data is None:
        return sec.missing(f"no DiG dataset found under {ctx.run_dir} (a folder with dataset.json and "
                           "metadata.jsonl); pass --data DIR")
    manifest = read_manifest(data)
    records = read_annotations(data)
    sec.add(info_list([("folder", str(data)), ("status", str(manifest.get("status", "?"))),
                       ("pairs", str(len(records))),
                       ("content hash", str(manifest.get("content_hash") or "- (not complete)")),
                       ("renderer", str((manifest.get("renderer") or {}).get("name", "?")))]))
    others = [d for d in ctx.parts.datasets if d != data]
    if others:
        sec.note("other dataset folders in the run: " + ", ".join(str(d) for d in others))
    if not records:
        return sec.missing(f"{data} holds no pairs yet")
    stages: dict[str, list[dict]] = {}
    for rec in records:
        stages.setdefault(str(rec["stage"]), []).append(rec)
    rows = []
    for name, recs in stages.items():
        ks = [len(r["boxes"]) for r in recs]
        types = Counter(d.get("type", "?") for r in recs for d in r.get("differences", []))
        counted = {bool(r.get("count_in_prompt")) for r in recs}
        rows.append([name, str(len(recs)), f"{min(ks)}-{max(ks)}" if min(ks) != max(ks) else str(ks[0]),
                     "/".join("yes" if c else "no" for c in sorted(counted, reverse=True)),
                     ", ".join(f"{t} {n}" for t, n in types.most_common())])
    sec.table(["stage", "pairs", "K", "count in prompt", "edit types"], rows, left=1)
    chosen = [r for recs in stages.values() for r in recs[:PER_STAGE]][:MAX_PAIRS]
    ctx.say(f"contact sheet of {len(chosen)} pairs of {data}")
    contact_sheet(data, chosen, ctx.out / SHEET)
    sec.image(SHEET, "contact sheet of the dataset",
              f"First {PER_STAGE} pairs of each stage (I_a | I_b, ground-truth boxes)", ctx.out / SHEET)
    if not any(m for r in records for m in (r.get("measures") or [])):
        sec.missing(f"difficulty histograms: {data} records no difficulty measures (its pairs "
                    "were written before dig generate measured them)")
    else:
        ctx.say("difficulty histograms")
        write_difficulty_histograms(data, ctx.out / HISTOGRAMS)
        sec.image(HISTOGRAMS, "difficulty histograms per stage", "Difficulty of the differences per stage")
    return sec
