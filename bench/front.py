"""The deploy configuration in front of the event's gunicorn: nginx on deploy/nginx.conf as
shipped (its placeholders filled in, both upstreams the one gunicorn), with its push server
(nchan) over a throwaway redis-server. Debian's packages: nginx, libnginx-mod-nchan,
redis-server (.ci/run installs them)."""

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from .client import Failure

ROOT = Path(__file__).resolve().parent.parent
NCHAN = Path("/usr/lib/nginx/modules/ngx_nchan_module.so")


def available() -> str | None:
    """None when nginx, nchan and redis-server are installed; else what is missing."""
    missing = [p for p in ("nginx", "redis-server") if shutil.which(p) is None]
    if not NCHAN.exists():
        missing.append("libnginx-mod-nchan")
    return ", ".join(missing) or None


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.05)
    raise Failure(f"{what} didn't listen on {port} within {timeout:g} s")


class PushFront:
    """nginx + nchan + Redis before the gunicorn on `upstream`; `port` is where guests go,
    `publish_url` the app's PUSH_PUBLISH_URL."""

    def __init__(self, upstream: int):
        self.port, self.publish, self.redis_port = _free_port(), _free_port(), _free_port()
        self.publish_url = f"http://127.0.0.1:{self.publish}/publish"
        self.dir = Path(tempfile.mkdtemp(prefix="guestgate-bench-nginx-"))
        self.dir.chmod(0o755)  # nginx's workers run as nobody when the bench runs as root
        values = {"GUESTGATE_LISTEN": f"127.0.0.1:{self.port}",
                  "GUESTGATE_A": f"127.0.0.1:{upstream}", "GUESTGATE_B": f"127.0.0.1:{upstream}",
                  "NGINX_RUN": str(self.dir), "PUSH_PUBLISH_LISTEN": f"127.0.0.1:{self.publish}",
                  "PUSH_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}"}
        text = (ROOT / "deploy" / "nginx.conf").read_text()
        for name, value in values.items():
            text = text.replace("${" + name + "}", value)
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(text)
        self.redis = None

    def _nginx(self, *args):
        return subprocess.run(["nginx", "-c", str(self.conf), "-e", str(self.dir / "error.log"),
                               *args], capture_output=True, text=True, timeout=30)

    def __enter__(self):
        self.redis = subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save",
             "", "--appendonly", "no", "--dir", str(self.dir), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.redis_port, "redis-server")
        done = self._nginx()
        if done.returncode != 0:
            self.__exit__()
            raise Failure(f"nginx didn't start: {done.stderr}")
        _wait_port(self.port, "nginx")
        return self

    def pids(self) -> list[int]:
        """nginx's master and workers, and redis-server: their CPU counts with the portal's."""
        pids = [self.redis.pid] if self.redis else []
        with contextlib.suppress(OSError, ValueError):
            master = int((self.dir / "nginx.pid").read_text())
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            pids += [master, *map(int, children)]
        return pids

    def crashed(self) -> bool:
        """A worker that died (nchan's known assertion, slact/nchan#534)."""
        log = self.dir / "error.log"
        return log.exists() and "exited on signal" in log.read_text(errors="replace")

    def __exit__(self, *exc):
        if (self.dir / "nginx.pid").exists():
            self._nginx("-s", "quit")
            deadline = time.monotonic() + 15
            while (self.dir / "nginx.pid").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.redis is not None:
            self.redis.terminate()
            self.redis.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
