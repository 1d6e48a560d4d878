"""Run the IANS server: the same as `ians serve` (flags and IANS_* variables apply)."""

import sys

from ians.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
