"""``python -m dig_core`` runs the ``dig`` CLI."""

from dig_core.cli import main

main()
