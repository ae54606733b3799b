"""``python -m tether``: the same as the ``tether`` command."""

from tether._cli import main

main()
