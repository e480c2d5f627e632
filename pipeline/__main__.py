"""``python -m pipeline``: the command line (pipeline.cli), in a process of its own that ends after it.

The process ends right after the command, so the objects alive then are not garbage-collected one by one:
``gc.freeze()`` moves them out of the collector's reach before the interpreter shuts down. Without it the
interpreter's final collections walked every object of Dagster, dbt, GX and pandas: 0.3 s instead of 5-9 s
after the summary of a commune run on this 2-core machine (README "Performance", fixed cost). Nothing the
run produces depends on those collections: every file and table is written and closed (or committed) before
the summary, as it must be for a run that can be killed at any point.
"""

import gc

from pipeline import cli

cli.EXITS_AFTER_COMMAND = True
code = cli.main()
gc.freeze()
raise SystemExit(code)
