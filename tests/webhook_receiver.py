"""A real webhook receiver for the tests: a threaded http.server on 127.0.0.1 that verifies
every delivery's signature twice — with svix's verifier, and by the specification's own words
in a few lines of the standard library (`spec_check`, itself held to the specification's
published test vector in tests/test_webhooks.py). The second matters: svix 2.9's Webhook.verify
hands over to the `standardwebhooks` package, the one Guestgate signs with, so it alone would not
be an independent check. Records what it got. `answers` scripts its status codes (then 200);
`hold` keeps a request open until released (a receiver that is slow, or a worker killed
mid-send)."""

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    headers: dict
    body: bytes
    verified: bool  # by svix's verifier and by spec_check, both
    status: int  # what the receiver answered

    @property
    def payload(self) -> dict:
        return json.loads(self.body)

    @property
    def type(self) -> str:
        return self.payload["type"]


def spec_check(secret: str, webhook_id: str, timestamp: str, signatures: str,
               body: bytes) -> bool:
    """Standard Webhooks 1.0, as its text says: the secret is base64 after `whsec_`; the signed
    content is `id.timestamp.body`; HMAC-SHA256, base64; the header holds space-separated
    `v1,<signature>` entries, any of which may match."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(entry, f"v1,{expected}") for entry in signatures.split(" "))


class Receiver:
    def __init__(self, secret: str | None = None):
        self.secrets = [secret] if secret else []
        self.answers: list[int] = []
        self.got: list[Received] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.hold = threading.Event()  # set: requests wait for `release`
        self.release = threading.Event()
        self.held = threading.Event()  # a request is being held now
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.hold.is_set():
                    receiver.held.set()
                    receiver.release.wait(30)
                with receiver.lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    got = Received(headers.get("webhook-id", ""), headers, body,
                                   receiver._verified(headers, body), status)
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    self.wfile.flush()
                except OSError:  # the sender is gone (killed mid-send): it never got the answer
                    got.status = 0
                with receiver.lock:
                    receiver.got.append(got)
                    receiver.arrived.notify_all()

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # many workers sending at once are all taken in

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _verified(self, headers: dict, body: bytes) -> bool:
        return self._svix_verified(headers, body) and any(
            spec_check(secret, headers.get("webhook-id", ""),
                       headers.get("webhook-timestamp", ""),
                       headers.get("webhook-signature", ""), body)
            for secret in self.secrets)

    def _svix_verified(self, headers: dict, body: bytes) -> bool:
        for secret in self.secrets:
            try:
                SvixWebhook(secret).verify(body, {"svix-id": headers.get("webhook-id", ""),
                                                  "svix-timestamp":
                                                      headers.get("webhook-timestamp", ""),
                                                  "svix-signature":
                                                      headers.get("webhook-signature", "")})
                return True
            except WebhookVerificationError:
                continue
        return False

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        """Until `count` deliveries were answered 2xx (or the timeout: then what there is)."""
        with self.lock:
            self.arrived.wait_for(lambda: len(self.delivered()) >= count, timeout)
            return self.delivered()

    def wait_got(self, count: int, timeout: float = 30) -> list[Received]:
        """Until `count` requests were answered, whatever the answer (the sender may have read
        it a moment before it is recorded here)."""
        with self.lock:
            self.arrived.wait_for(lambda: len(self.got) >= count, timeout)
            return list(self.got)

    def delivered(self) -> list[Received]:
        return [r for r in self.got if 200 <= r.status < 300]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
