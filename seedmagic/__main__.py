"""``python -m seedmagic verify NOTEBOOK...``: the ``seedmagic`` command."""

import sys

from seedmagic.notebook.cli import main

sys.exit(main())
