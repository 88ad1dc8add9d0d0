"""dig-eval's CLI commands (registered by plugin.py)."""

COMMANDS: list = []
