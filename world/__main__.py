import sys

from world.cli import main

sys.exit(main())
