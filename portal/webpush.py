"""Web Push (RFC 8030) with VAPID (RFC 8292) and encrypted payloads (RFC 8291, aes128gcm):
what a host's browser needs to show a notification with every Guestgate tab closed.

The VAPID key pair is made once and kept in instance/ (VAPID_PRIVATE_KEY_FILE, private, never
in git), like the secret key: workers starting together end up with the same key. pywebpush
encrypts the payload for the browser's keys and py-vapid signs the JWT (ES256); the POST to
the push service goes through the webhooks' guarded client (portal/webhook_http.py): the
endpoint comes from a browser, so private addresses are refused unless
PUSH_ALLOW_PRIVATE_ADDRESSES, and nothing waits longer than PUSH_TIMEOUT_SECONDS."""

import base64
import json
import os
import secrets
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

from . import mail
from .webhook_http import Refused, post

_VAPID = "guestgate_vapid"  # app.extensions: the loaded key


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _kept_private_key(path: Path) -> bytes:
    """The PEM in `path`, made on first use: written whole and private (0600) to a temporary
    file, then linked into place, which fails if another process got there first."""
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes()


def vapid():
    """This installation's VAPID signer (py_vapid.Vapid02), loaded once a process."""
    from py_vapid import Vapid02

    app = current_app._get_current_object()
    signer = app.extensions.get(_VAPID)
    if signer is None:
        pem = _kept_private_key(Path(app.config["VAPID_PRIVATE_KEY_FILE"]))
        signer = app.extensions[_VAPID] = Vapid02.from_pem(pem)
    return signer


def public_key() -> str:
    """The applicationServerKey browsers subscribe with: the public key, uncompressed point,
    base64url."""
    raw = vapid().public_key.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    return _b64url(raw)


def subject() -> str:
    """Whom a push service may contact about our pushes: VAPID_SUBJECT, else the sender's
    address."""
    configured = current_app.config.get("VAPID_SUBJECT")
    if configured:
        return configured
    address = parseaddr(current_app.config.get("MAIL_DEFAULT_SENDER") or "")[1]
    return f"mailto:{address or 'guestgate@localhost'}"


@dataclass(frozen=True)
class Result:
    ok: bool
    gone: bool  # the push service says the subscription no longer exists (404, 410)
    error: str = ""


def send(endpoint: str, p256dh: str, auth: str, payload: dict, ttl: int = 600,
         urgency: str = "high") -> Result:
    """Encrypt `payload` (JSON) for the subscription and POST it to its push service. Never
    raises for network trouble or a refused address: the Result says what happened."""
    from pywebpush import WebPusher

    config = current_app.config
    try:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        body = WebPusher({"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}).encode(
            json.dumps(payload, ensure_ascii=False).encode(), "aes128gcm")["body"]
        headers = {**vapid().sign({"aud": audience, "sub": subject()}),
                   "TTL": str(ttl), "Urgency": urgency, "Content-Encoding": "aes128gcm"}
        answer = post(endpoint, body, headers, timeout=config["PUSH_TIMEOUT_SECONDS"],
                      allow_private=config["PUSH_ALLOW_PRIVATE_ADDRESSES"], max_answer=1024,
                      content_type="application/octet-stream")
    except Refused as exc:
        return Result(False, False, f"Refused: {exc}")
    except Exception as exc:  # a malformed subscription, network trouble: tell, go on
        return Result(False, False, mail.header_safe(f"{type(exc).__name__}: {exc}", 500))
    if 200 <= answer.status < 300:
        return Result(True, False)
    why = mail.header_safe(f"{answer.status} {answer.body.decode(errors='replace')}", 500)
    return Result(False, answer.status in (404, 410), why)
