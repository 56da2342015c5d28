import sys

from humanparse.cli import console_main

sys.exit(console_main())
