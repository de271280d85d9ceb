"""CPU benchmark: ``workers`` (one measurement per process), ``driver`` (plans and interleaves them,
the command line) and ``report`` (markdown with medians and the spread of ratios)."""
