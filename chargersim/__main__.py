"""python -m chargersim: the same as the evflex-charger-sim command."""

from .cli import main

raise SystemExit(main())
