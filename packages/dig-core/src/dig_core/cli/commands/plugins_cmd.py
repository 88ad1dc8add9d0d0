"""``dig plugins``: list what is loaded."""

from __future__ import annotations

import json

import click

from dig_core.plugins import get_plugin_manager


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List loaded plugins: kind, name, package and version, and the class that implements each.

    Plugins come from the `dig` entry-point group; set DIG_PLUGINS=a,b to load only those entry
    points or DIG_DISABLE_PLUGINS=a,b to skip some.
    """
    rows = [
        {"kind": p.kind, "name": p.name, "package": p.package, "version": p.version,
         "class": f"{p.cls.__module__}.{p.cls.__qualname__}"}
        for p in get_plugin_manager().all_plugins()
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no plugins loaded")
        return
    cols = ["kind", "name", "package", "version", "class"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        click.echo("  ".join(r[c].ljust(widths[c]) for c in cols).rstrip())
