"""`python -m liveness generate-corpus|eval|analyze`."""

import sys

from liveness.cli import main

sys.exit(main())
