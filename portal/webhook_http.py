"""Outgoing webhook requests, made safe: the receiver's name is resolved first, every address
it resolves to is checked (no private, loopback, link-local, multicast or reserved address,
IPv4-mapped IPv6 included, unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES), and the connection goes to
that checked address — there is no second lookup for a rebinding DNS server to answer
differently. The Host header, TLS SNI and certificate check still use the name.

One POST: a short timeout, no redirects followed (http.client follows none), no cookies (none
are kept or sent), the answer read only up to a bound."""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


class Refused(Exception):
    """The URL or its addresses aren't allowed; nothing was sent."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def refused_address(address: str, allow_private: bool) -> str | None:
    """Why this address may not receive webhooks, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_multicast or ip.is_unspecified:
        return f"{ip} is a multicast or unspecified address"
    if allow_private:
        return None
    if ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved \
            or not ip.is_global:
        return f"{ip} is a private, loopback, link-local or reserved address"
    return None


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address of `host`, each checked; Refused if any is refused (a name that points at
    an inside address as well as an outside one is not one to trust)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} could not be resolved: {exc}")
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise Refused(f"{host} has no address")
    for address in addresses:
        why = refused_address(address, allow_private)
        if why:
            raise Refused(why)
    return addresses


def check_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL, or Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"not a valid URL: {exc}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("the URL must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        raise Refused("the URL may not carry a user name or password")
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


class _PinnedConnection(http.client.HTTPConnection):
    """Connects to one address already checked, while speaking to the host by its name."""

    def __init__(self, host, port, address, timeout, tls: ssl.SSLContext | None):
        super().__init__(host, port, timeout=timeout)
        self._address, self._tls = address, tls

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allow_private: bool, max_answer: int = 4096,
         content_type: str = "application/json") -> Answer:
    """POST `body` to `url`. Refused before anything is sent; OSError (and http.client's
    errors) for network trouble. Reads at most `max_answer` bytes of the answer, within
    `timeout` overall."""
    scheme, host, port, path = check_url(url)
    addresses = resolve(host, port, allow_private)
    tls = ssl.create_default_context() if scheme == "https" else None
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    for address in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        connection = _PinnedConnection(host, port, address, left, tls)
        try:
            connection.request("POST", path, body=body, headers={
                **headers, "Content-Type": content_type, "Connection": "close"})
            response = connection.getresponse()
            answer = b""
            while len(answer) < max_answer and time.monotonic() < deadline:
                chunk = response.read1(max_answer - len(answer)) if hasattr(response, "read1") \
                    else response.read(max_answer - len(answer))
                if not chunk:
                    break
                answer += chunk
            return Answer(response.status, answer)
        except ConnectionRefusedError as exc:
            last_error = exc  # the next address, if the name has another
        finally:
            connection.close()
    raise last_error or TimeoutError("timed out")
