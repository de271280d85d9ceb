"""Process-wide MXNet settings that must be made before ``import mxnet``.

MXNet's OpenMP pool uses half the cores by default (one thread on a
2-core machine). ``configure()`` uses every core unless the user set
``OMP_NUM_THREADS`` already. Call it first thing in an entry point.
"""
from __future__ import annotations

import os
import sys


def configure() -> None:
    if "mxnet" in sys.modules:
        return  # too late to matter; the user's environment stands
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))
    # Tame MXNet's per-operator warnings about unset attributes in old symbols.
    os.environ.setdefault("MXNET_STORAGE_FALLBACK_LOG_VERBOSE", "0")
