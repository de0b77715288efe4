"""aa-scan from a checkout: `python run_scan.py --demo` (same as the `aa-scan` command)."""
import sys

from scanner.cli import main

sys.exit(main(sys.argv[1:]))
