"""``python -m pipeline ...`` is the same as the ``stressfrontier`` console script."""

from pipeline.cli import main

raise SystemExit(main())
