"""``python -m xp.cli``."""

from xp.cli import main

main()
