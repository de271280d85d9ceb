"""``python -m tools.benchmark``: the benchmark driver."""
import sys

from tools.benchmark.driver import main

sys.exit(main())
