"""`python -m fusionsim` runs the CLI."""

from fusionsim.cli import main

raise SystemExit(main())
