import sys

from humanparse.cli import main

sys.exit(main())
