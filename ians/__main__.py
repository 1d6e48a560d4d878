import sys

from ians.cli import main

sys.exit(main())
