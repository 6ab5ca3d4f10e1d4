"""``python -m service.cli``."""

from xp.cli import main

main()
