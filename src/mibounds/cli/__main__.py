"""``python -m mibounds.cli``: the same as the ``mibounds`` command."""

from mibounds.cli import main

raise SystemExit(main())
