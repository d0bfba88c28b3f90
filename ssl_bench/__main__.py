"""``python -m ssl_bench`` is the same entry point as ``ssl-bench``."""

import sys

from ssl_bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
