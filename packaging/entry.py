"""Bundle entry point: the same `main()` as the `tfr-viewer` command."""

import multiprocessing

from tfr_viewer.cli import main

multiprocessing.freeze_support()  # the window indexes files in worker processes

raise SystemExit(main())
