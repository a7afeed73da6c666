"""`python -m segment_tui`: the same as the segment-tui command."""

import sys

from segment_tui.cli import main

sys.exit(main())
