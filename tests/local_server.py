"""Helpers for tests that start a server of the project's own on loopback."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    """A port nobody listens on now (the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], seconds: float, pause: float = 0.2) -> bool:
    """Poll `ready` until it is true or `seconds` have passed; a server that is starting refuses at first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return True
        except Exception:
            pass
        time.sleep(pause)
    return False
