"""``python -m edgesplit``: the ``edgesplit`` command."""

from edgesplit.cli import main

main()
