"""Free TCP ports for the processes the project starts (servers, parameter-server jobs)."""
from __future__ import annotations

import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at ``host`` now ("" means every interface)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
