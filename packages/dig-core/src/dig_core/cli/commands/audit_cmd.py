"""``dig audit``: check labels against pixels."""

from __future__ import annotations

import json

import click

from dig_core.data.dataset import read_annotations, refuse_output_in_dataset


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--min-box-change", default=8.0, show_default=True,
              help="A box whose mean |I_a - I_b| (0-255) is below this is suspicious.")
@click.option("--min-inside-share", default=0.5, show_default=True,
              help="A pair with less than this share of its pixel change inside the boxes is suspicious.")
@click.option("--json-out", type=click.Path(dir_okay=False), default=None, help="Also write per-pair results as JSONL.")
@click.option("--where", "where", multiple=True, metavar="COND",
              help="Only audit pairs with a difference meeting every condition, e.g. 'area<400' "
                   "(keys: area, area_share, contrast, center_dist, border_dist, occlusion, k). Repeatable.")
@click.option("--histograms", type=click.Path(dir_okay=False), default=None, metavar="PNG",
              help="Also draw the histograms of the difficulty measures per stage (of the pairs --where "
                   "keeps) into this PNG, as `dig generate` does into DATASET/difficulty.png.")
def audit(dataset: str, min_box_change: float, min_inside_share: float, json_out: str | None,
          where: tuple[str, ...], histograms: str | None) -> None:
    """For every pair of DATASET: the pixel change inside each ground-truth box and the share of all
    pixel change that falls inside the boxes, and the distribution of the difficulty measures
    recorded by `dig generate` (docs/difficulty.md). Prints a summary table and the suspicious pairs."""
    import numpy as np
    from tqdm import tqdm

    from dig_core.audit import audit_dataset
    from dig_core.data.io import atomic_write_bytes, atomic_write_text
    from dig_core.difficulty import MEASURES, pair_matches, parse_where

    for option, path in (("--json-out", json_out), ("--histograms", histograms)):
        if path is not None:
            refuse_output_in_dataset(path, dataset, option)
    conditions = parse_where(where)
    records = [r for r in read_annotations(dataset) if pair_matches(r, conditions)]
    results = list(tqdm(audit_dataset(dataset, records, min_box_change=min_box_change,
                                      min_inside_share=min_inside_share),
                        total=len(records), unit="pair", desc="dig audit", disable=None))
    if histograms:
        import io

        from dig_core.visualize import difficulty_histograms

        buf = io.BytesIO()
        difficulty_histograms(records).save(buf, format="PNG")
        atomic_write_bytes(histograms, buf.getvalue())
        click.echo(f"wrote {histograms}")
    if not results:
        click.echo(f"{dataset} has no pairs")
        return
    box = np.array([c for r in results for c in r.box_change] or [0.0])
    share = np.array([r.inside_share for r in results])
    click.echo(f"{'measure':<34}{'min':>8}{'median':>8}{'mean':>8}")
    click.echo(f"{'box change (mean |a-b|, 0-255)':<34}{box.min():8.1f}{np.median(box):8.1f}{box.mean():8.1f}")
    click.echo(f"{'share of change inside boxes':<34}{share.min():8.2f}{np.median(share):8.2f}{share.mean():8.2f}")
    measured = [m for r in records for m in r.get("measures") or []]
    for key in MEASURES if measured else ():
        v = np.array([m[key] for m in measured if m.get(key) is not None], dtype=float)
        if not v.size:
            click.echo(f"{'difference ' + key:<34}{'not measured':>24}")
            continue
        click.echo(f"{'difference ' + key:<34}{v.min():8.3g}{np.median(v):8.3g}{v.mean():8.3g}")
    bad = [r for r in results if r.suspicious]
    click.echo(f"pairs: {len(results)}, boxes: {box.size}, suspicious: {len(bad)}")
    for r in bad:
        click.echo(f"  {r.id}: " + "; ".join(r.reasons))
    if json_out:
        lines = [json.dumps({"id": r.id, "box_change": r.box_change, "inside_share": r.inside_share,
                             "changed_pixels": r.changed_pixels, "reasons": r.reasons}) for r in results]
        atomic_write_text(json_out, "\n".join(lines) + "\n")
