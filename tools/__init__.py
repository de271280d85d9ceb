"""Command-line tools: ``python -m tools.<name>``, ``python tools/<name>.py`` or the ``ssd-*`` console
scripts."""
