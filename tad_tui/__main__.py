import sys

from tad_tui.cli import main

sys.exit(main())
