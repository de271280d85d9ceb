"""Process-wide MXNet settings that must be made before ``import mxnet``.

Measured on 2-core machines (``tools/benchmark``; docs/performance.md):

* MXNet's OpenMP pool uses half the cores by default (one thread here);
  every core makes VGG16 SSD300 1.9x faster.
* With the threaded engine, two OpenMP threads make a tiny network (MobileNet
  0.25 SSD300, 8 ms) *slower* than one: the engine's worker threads and the
  OpenMP pool compete. ``NaiveEngine`` runs operators in the calling thread,
  which removes that cost and changes nothing for big networks.

So ``configure()`` uses every core and, when every device is a CPU (no
``--gpus`` on the command line), the naive engine. Variables the user has set
are left alone. ``common.cli.run_main`` calls it for every command, after
parsing the arguments and before anything imports MXNet; importing this
module changes nothing.
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence


def uses_gpus(argv: Sequence[str]) -> bool:
    """Whether the command line selects GPU contexts (``--gpus 0,1`` or ``--gpus=0``)."""
    for i, arg in enumerate(argv):
        if arg == "--gpus":
            return i + 1 < len(argv) and argv[i + 1].strip() not in ("", "-1")
        if arg.startswith("--gpus="):
            return arg.split("=", 1)[1].strip() not in ("", "-1")
    return False


def defaults(argv: Sequence[str], cpu_count: Optional[int] = None) -> dict:
    """The environment ``configure`` sets for this command line (before the user's own)."""
    env = {"OMP_NUM_THREADS": str(cpu_count or os.cpu_count() or 1),
           # Tame MXNet's per-operator warnings about unset attributes in old symbols, and its
           # "Subgraph backend MKLDNN is activated" line at every bind.
           "MXNET_STORAGE_FALLBACK_LOG_VERBOSE": "0", "MXNET_SUBGRAPH_VERBOSE": "0"}
    if not uses_gpus(argv):
        env["MXNET_ENGINE_TYPE"] = "NaiveEngine"
    return env


def threads() -> int:
    """The thread count every engine gets: ``OMP_NUM_THREADS`` (set by ``configure`` unless the user
    set it), else every core."""
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


#: Whether ``configure`` has run in this process (tests check it precedes ``import mxnet``).
configured = False


def configure(argv: Optional[Sequence[str]] = None) -> None:
    """Set the defaults of ``defaults(argv)`` that the user has not set; a no-op once MXNet is imported."""
    global configured
    configured = True
    if "mxnet" in sys.modules:
        return  # too late to matter; the user's environment stands
    for key, value in defaults(sys.argv[1:] if argv is None else argv).items():
        os.environ.setdefault(key, value)
