import sys

from opp.cli.main import main

sys.exit(main())
