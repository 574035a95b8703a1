"""Helpers shared by the tests: accounts, signing in, reading pages as a person does, a real
server on 127.0.0.1."""

import functools
import re
import socket
import threading
from contextlib import closing

from portal import passwords as pw
from portal.models import User

PASSWORD = "correct horse battery"


def free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.cache
def hashed(password: str) -> str:
    """Argon2 is slow on purpose; tests reuse one hash per password."""
    return pw.hash_password(password)


def make_user(email="owner@example.com", access="broadcaster", password=PASSWORD,
              timezone="UTC", name=""):
    return User.create(email=email, access=access, password_hash=hashed(password),
                       timezone=timezone, name=name)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def sign_in(self, email="owner@example.com", password=PASSWORD):
        return self.client.post("/sign-in", data={"email": email, "password": password})

    def sign_out(self):
        return self.client.post("/sign-out")


def text_of(response) -> str:
    """The visible text of an HTML response, whitespace collapsed (for "the user reads ...")."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#39;", "'").replace(
        "&amp;", "&").replace("&quot;", '"').replace("&#34;", '"').strip()


class LiveServer:
    def __init__(self, app):
        from werkzeug.serving import make_server

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app.config["BASE_URL"] = self.url
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)
