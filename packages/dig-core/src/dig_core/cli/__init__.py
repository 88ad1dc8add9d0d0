"""The ``dig`` command line: ``main`` (the console script), the group that turns a ``DigError`` into an
``error:`` line, shared options, and core's commands (``commands/*_cmd.py``: parse and dispatch only;
what they run lives in the library modules)."""

from dig_core.cli.main import DigGroup, cli, load_commands, main

__all__ = ["DigGroup", "cli", "load_commands", "main"]
