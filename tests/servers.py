"""Real servers from Debian's packages, started and stopped by the tests: redis-server and nginx
(with the repository's own deploy/nginx.conf) — and a browser that talks HTTP to them from an
address of its own (any 127.x.y.z is this machine), as separate clients behind a proxy do."""

import http.client
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parent.parent
NGINX_CONF = ROOT / "deploy" / "nginx.conf"
USER_AGENT = "guestgate-tests"  # one browser keeps one User-Agent (Flask-Login checks it)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def require_program(program: str, package: str) -> None:
    """Skip (with the reason) when a server program isn't installed; CI fails on any skip.
    Here rather than in conftest.py: a test module importing `conftest` may get
    tests/browser/conftest.py instead, depending on which was imported first."""
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed: apt-get install -y {package} (CI installs it)")


NCHAN = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")  # deploy/nginx.conf loads it


def require_nginx() -> None:
    """nginx with its push server module, nchan (both skip, saying why, when missing)."""
    require_program("nginx", "nginx")
    if not NCHAN.exists():
        pytest.skip(f"no {NCHAN}: apt-get install -y libnginx-mod-nchan (CI installs it)")


def wait_for(check, what: str, timeout: float = 30):
    """Until check() is true; a server that never comes up fails the test, saying which."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} didn't come up within {timeout:.0f} s")
        time.sleep(0.05)


def answers(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/healthz")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


class RedisServer:
    """redis-server on 127.0.0.1:`port`, nothing saved to disk; stop() and start() again keep
    the port, as a restarted server does."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}"
        self.dir = Path(tempfile.mkdtemp(prefix="guestgate-redis-"))
        self.proc = None

    def start(self) -> None:
        with (self.dir / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.dir), "--loglevel", "warning"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.ping, f"redis-server on port {self.port}")

    def _client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=2)

    def ping(self) -> bool:
        import redis

        try:
            with self._client() as client:
                return client.ping()
        except redis.RedisError:
            return False

    def flush(self) -> None:
        with self._client() as client:
            client.flushall()

    def keys(self, pattern: str) -> list[bytes]:
        with self._client() as client:
            return client.keys(pattern)

    def stop(self) -> None:
        """As an outage: the server is gone (SIGTERM, nothing saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def nginx_config(listen: int, upstreams: tuple[int, int], run_dir: Path, publish: int,
                 redis_url: str) -> str:
    """deploy/nginx.conf with only what the header says to fill in: the address nginx listens on,
    the two instances, the folder for its pid, logs and buffers, and the push server's
    publisher address and Redis."""
    text = NGINX_CONF.read_text()
    values = {"GUESTGATE_LISTEN": f"127.0.0.1:{listen}",
              "GUESTGATE_A": f"127.0.0.1:{upstreams[0]}",
              "GUESTGATE_B": f"127.0.0.1:{upstreams[1]}",
              "NGINX_RUN": str(run_dir),
              "PUSH_PUBLISH_LISTEN": f"127.0.0.1:{publish}",
              "PUSH_REDIS_URL": redis_url}
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    left = re.findall(r"\$\{\w+\}", text)
    assert not left, f"deploy/nginx.conf has placeholders the test doesn't know: {left}"
    return text


class NginxServer:
    """nginx (Debian's package, with libnginx-mod-nchan) on deploy/nginx.conf, balancing the two
    instances; `publish_url` is the instances' PUSH_PUBLISH_URL."""

    def __init__(self, listen: int, upstreams: tuple[int, int], publish: int, redis_url: str):
        self.port = listen
        self.publish_url = f"http://127.0.0.1:{publish}/publish"
        # World-readable: nginx's workers run as nobody when the tests run as root.
        self.dir = Path(tempfile.mkdtemp(prefix="guestgate-nginx-"))
        self.dir.chmod(0o755)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(nginx_config(listen, upstreams, self.dir, publish, redis_url))

    def __enter__(self):
        done = subprocess.run(["nginx", "-c", str(self.conf), "-e", str(self.dir / "error.log")],
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise RuntimeError(f"nginx didn't start: {done.stderr}")
        wait_for(lambda: (self.dir / "nginx.pid").exists(), "nginx")
        return self

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __exit__(self, *exc):
        pid_file = self.dir / "nginx.pid"
        if pid_file.exists():
            subprocess.run(["nginx", "-c", str(self.conf), "-e", str(self.dir / "error.log"),
                            "-s", "quit"], capture_output=True, timeout=30)
            deadline = time.monotonic() + 15
            while pid_file.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        shutil.rmtree(self.dir, ignore_errors=True)


class Response:
    def __init__(self, status: int, headers: dict, text: str):
        self.status, self.headers, self.text = status, headers, text

    @property
    def visible(self) -> str:
        """The page's text as a person reads it."""
        html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", self.text, flags=re.S)
        text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
        return text.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"').strip()

    def __repr__(self):
        return f"<Response {self.status} {self.visible[:120]!r}>"


class Browser:
    """One person's browser: its cookies, the CSRF token of the last form it was shown, and its
    own address (127.x.y.z). `port` says where it goes: nginx, or one instance directly.
    Every request is a new connection, as a guest's requests mostly are."""

    def __init__(self, port: int, address: str = "127.0.0.1", timeout: float = 60):
        self.port, self.address, self.timeout = port, address, timeout
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, form: dict | None = None,
                headers: dict | None = None, port: int | None = None) -> Response:
        """A GET whose connection is dropped unanswered is asked once more, as a browser
        reloads: nchan's known crash (slact/nchan#534) takes an nginx worker down with the
        connections it holds, and its master starts another. A POST is never sent twice."""
        try:
            return self._request(method, path, form, headers, port)
        except (http.client.RemoteDisconnected, ConnectionResetError):
            if method != "GET":
                raise
            return self._request(method, path, form, headers, port)

    def _request(self, method: str, path: str, form: dict | None,
                 headers: dict | None, port: int | None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=self.timeout,
                                          source_address=(self.address, 0))
        sent = {"User-Agent": USER_AGENT, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode({"csrf_token": self.csrf, **form})
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        match = CSRF.search(text)
        if match:
            self.csrf = match.group(1)
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, text)

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict | None = None, **kw) -> Response:
        return self.request("POST", path, form or {}, **kw)
