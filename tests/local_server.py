"""Helpers for tests that start a server of the project's own on loopback."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nobody listens on now (the server binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
