"""Listening sockets bound before anything else starts, so a port in use is one clear line."""

from __future__ import annotations

import errno
import socket

from ians.errors import IansError


def listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to every address of `host` on `port`, listening.

    Raises IansError saying what is wrong (port in use, not allowed, unknown host).
    """
    where = f"{host}:{port}"
    if not 0 <= port <= 65535:
        raise IansError(f"cannot listen on {where}: a port is a number from 0 to 65535")
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise IansError(f"cannot listen on {where}: unknown host ({exc.strerror})") from None
    sockets: list[socket.socket] = []
    try:
        seen: set[tuple[int, object]] = set()
        for family, kind, proto, _, address in found:
            if (family, address) in seen:
                continue
            seen.add((family, address))
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(128)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise IansError(
                f"port {port} on {host} is already in use (another server listens there):"
                " choose another with --port or IANS_PORT"
            ) from None
        raise IansError(f"cannot listen on {where}: {exc.strerror}") from None
    return sockets
