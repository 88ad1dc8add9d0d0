"""``dig show``: a picture of a dataset."""

from __future__ import annotations

import itertools

import click

from dig_core.data.dataset import read_annotations, refuse_output_in_dataset


@click.command()
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--n", "n", default=16, show_default=True, help="Number of pairs to draw.")
@click.option("--ids", default=None, help="Comma-separated pair ids to draw instead of the first N.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
@click.option("--where", "where", multiple=True, metavar="COND",
              help="Only pairs with a difference meeting every condition, e.g. 'area<400', 'contrast>=20', "
                   "'center_dist<0.3', 'k==0' (keys: area, area_share, contrast, center_dist, border_dist, k; "
                   "docs/difficulty.md). Repeatable.")
def show(dataset: str, n: int, ids: str | None, out: str, where: tuple[str, ...]) -> None:
    """Draw pairs of DATASET as a contact sheet: I_a | I_b with the ground-truth boxes and each
    difference's type.

    Example: dig show data/demo --where "area<400" --where "contrast<20" --out subtle.png"""
    from dig_core.difficulty import pair_matches, parse_where
    from dig_core.errors import DigError
    from dig_core.visualize import contact_sheet

    refuse_output_in_dataset(out, dataset)
    conditions = parse_where(where)
    records = (r for r in read_annotations(dataset) if pair_matches(r, conditions))
    if ids:
        wanted = [i.strip() for i in ids.split(",") if i.strip()]
        found = {r["id"]: r for r in records if r["id"] in wanted}
        missing = [i for i in wanted if i not in found]
        if missing:
            raise DigError(f"no pair with id {', '.join(missing)} in {dataset}")
        chosen = [found[i] for i in wanted]
    else:
        chosen = list(itertools.islice(records, max(n, 0)))
    count = contact_sheet(dataset, chosen, out)
    if count == 0:
        raise DigError(f"{dataset} has no pairs to draw" + (f" matching --where {list(where)}" if where else ""))
    click.echo(f"drew {count} pairs to {out}")
