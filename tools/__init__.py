"""Command-line tools; run them as ``python -m tools.<name>`` from the repository root."""
