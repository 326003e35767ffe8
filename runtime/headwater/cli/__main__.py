"""``python -m headwater.cli`` is the ``headwater`` console script."""

from .main import main

main()
