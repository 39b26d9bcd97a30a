import sys

from amends.cli import main

sys.exit(main())
