"""`python -m tfr_viewer` is the `tfr-viewer` command."""

from .cli import main

raise SystemExit(main())
