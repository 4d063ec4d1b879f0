"""``python -m bench.hostile``: see hostile/__init__.py."""

import sys

from . import harness, main

sys.exit(harness.main(main))
