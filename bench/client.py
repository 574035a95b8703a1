"""A small HTTP client for preparing the benchmark (signing in, entering as a guest) and the burst
of lobby entries. Only the standard library: what wrk can't do, this does."""

import asyncio
import http.client
import re
import time
from collections import Counter
from urllib.parse import urlencode

USER_AGENT = "guestgate-bench"  # wrk sends the same, so Flask-Login's session check agrees
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Failure(Exception):
    """Something answered other than expected: the harness's numbers can't be trusted."""


class Browser:
    """Keeps the session cookie between requests, as a browser would."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, form: dict | None = None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"User-Agent": USER_AGENT}
        if self.cookies:
            headers["Cookie"] = self.cookie_header
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for name, value in response.getheaders():
                if name.lower() == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
            return response.status, dict(response.getheaders()), text
        finally:
            conn.close()

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, form: dict):
        return self.request("POST", path, form)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise Failure("no CSRF token on the page")
    return match.group(1)


def expect(status: int, wanted: int, what: str, text: str = "") -> None:
    if status != wanted:
        raise Failure(f"{what}: HTTP {status}, expected {wanted}\n{text[:500]}")


def sign_in(browser: Browser, email: str, password: str) -> None:
    status, _, html = browser.get("/sign-in")
    expect(status, 200, "GET /sign-in", html)
    status, _, html = browser.post("/sign-in", {"csrf_token": csrf_token(html), "email": email,
                                                "password": password})
    expect(status, 303, "POST /sign-in", html)


def enter_lobby(browser: Browser, token: str, name: str, email: str) -> str:
    """Open a guest link and submit the lobby form; returns where the guest was sent."""
    status, _, html = browser.get(f"/g/{token}")
    expect(status, 200, "GET lobby", html)
    status, headers, html = browser.post(f"/g/{token}", {"csrf_token": csrf_token(html),
                                                         "name": name, "email": email})
    expect(status, 303, "POST lobby", html)
    return headers.get("Location", "")


def fresh_form_session(browser: Browser) -> str:
    """A session cookie holding a CSRF token and nothing else (no device id), and the token:
    reused by every lobby POST of the benchmark, each is a new guest."""
    status, _, html = browser.get("/sign-in")
    expect(status, 200, "GET /sign-in", html)
    return csrf_token(html)


# --- asyncio: many browsers at once ------------------------------------------------------------

class Reply:
    """One HTTP answer, read whole (the server closes the connection after it)."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def cookies(self) -> dict[str, str]:
        """The cookies this answer sets (name: value), as a browser would keep them."""
        jar = {}
        for key, value in self.headers:
            if key.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                jar[name.strip()] = rest.split(";", 1)[0]
        return jar

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


async def fetch(host: str, port: int, method: str, path: str, headers: dict | None = None,
                body: bytes = b"", timeout: float = 120.0) -> Reply:
    """One request on its own connection (Connection: close), on raw asyncio streams: no
    library, no per-request object beyond the answer, so thousands of simulated browsers fit
    beside the server on the same two cores."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"User-Agent: {USER_AGENT}",
             "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    async def exchange():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            await writer.drain()
            return await reader.read()  # until the server closes
        finally:
            writer.close()

    raw = await asyncio.wait_for(exchange(), timeout)
    head, _, content = raw.partition(b"\r\n\r\n")
    if not head:
        raise ConnectionError("the server closed the connection without an answer")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = []
    for line in header_lines:
        name, _, value = line.partition(":")
        parsed.append((name.strip(), value.strip()))
    reply = Reply(int(status_line.split()[1]), parsed, content)
    if (reply.header("Transfer-Encoding") or "").lower() == "chunked":
        reply.body = _unchunk(content)
    return reply


def _unchunk(data: bytes) -> bytes:
    out, rest = [], data
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2:]
    return b"".join(out)


def cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


async def _lobby_sessions(host, port, path, count, concurrency):
    gate = asyncio.Semaphore(concurrency)

    async def one():
        async with gate:
            reply = await fetch(host, port, "GET", path)
        expect(reply.status, 200, "lobby GET for a browser session", reply.text)
        return cookie_header(reply.cookies()), csrf_token(reply.text)

    return await asyncio.gather(*(one() for _ in range(count)))


def lobby_sessions(host: str, port: int, path: str, count: int,
                   concurrency: int = 16) -> list[tuple[str, str]]:
    """`count` new browsers that each opened the lobby at `path`: (Cookie header, CSRF token).
    The cookie holds the device id the lobby GET gave, as a real browser's submission does."""
    return asyncio.run(_lobby_sessions(host, port, path, count, concurrency))


# --- the burst -------------------------------------------------------------------------------

async def _one_entry(host, port, path, cookie, csrf, email, timeout):
    body = urlencode({"csrf_token": csrf, "name": "Burst guest", "email": email}).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {USER_AGENT}\r\n"
            f"Cookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    started = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(head + body)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        await asyncio.wait_for(reader.read(), timeout)  # until the server closes
        return int(line.split()[1]), time.perf_counter() - started
    finally:
        writer.close()


async def _burst(host, port, path, cookie, csrf, entries, label, timeout):
    tasks = [asyncio.create_task(_one_entry(host, port, path, cookie, csrf,
                                            f"burst-{label}-{i}@guest.example", timeout))
             for i in range(entries)]
    return await asyncio.gather(*tasks, return_exceptions=True)


def burst(host: str, port: int, path: str, cookie: str, csrf: str, entries: int, label: str,
          timeout: float = 60.0) -> dict:
    """`entries` lobby submissions at once, each on its own connection."""
    started = time.perf_counter()
    results = asyncio.run(_burst(host, port, path, cookie, csrf, entries, label, timeout))
    drained = time.perf_counter() - started
    statuses = Counter()
    latencies = []
    failures = Counter()
    for result in results:
        if isinstance(result, BaseException):
            failures[type(result).__name__] += 1
        else:
            statuses[result[0]] += 1
            latencies.append(result[1])
    latencies.sort()
    return {
        "entries": entries,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "client_errors": dict(failures),
        "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "drain_seconds": round(drained, 3),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
    }
