#!/usr/bin/env python3
"""Generate the liveness evaluation corpus (same as `cardsim liveness generate-corpus`)."""

import sys

from liveness.cli import main

if __name__ == "__main__":
    sys.exit(main(["generate-corpus", *sys.argv[1:]]))
