"""Helpers shared by the pipeline tests."""

from __future__ import annotations


def actions(output: str) -> dict[str, str]:
    """step name -> its header's action (`== [i/n] NAME (TYPE): ACTION - reason`)."""
    out = {}
    for line in output.splitlines():
        if line.startswith("== ["):
            name = line.split("] ", 1)[1].split(" ", 1)[0]
            out[name] = line.split("): ", 1)[1].split(" - ", 1)[0]
    return out
