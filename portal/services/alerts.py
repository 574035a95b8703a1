"""An account's host alerts: its preferences and its browsers' Web Push subscriptions (the
Alerts screen, portal/account.py). What is sent, when and to whom is portal/host_alerts.py."""

import base64
import binascii
from dataclasses import dataclass
from datetime import time

from .. import timeutil
from ..db import database
from ..models import AlertPreference, PushSubscription, User

MAX_ENDPOINT = 1000
MAX_LABEL = 200
MAX_BROWSERS = 20  # an account's subscriptions: each alert goes to every one, in turn


@dataclass(frozen=True)
class Preferences:
    email: bool
    push: bool
    moderated_rooms: bool
    quiet_from: time | None
    quiet_until: time | None


def save_preferences(user: User, values: Preferences) -> None:
    fields = {"email": values.email, "push": values.push,
              "moderated_rooms": values.moderated_rooms,
              "quiet_from": values.quiet_from.strftime("%H:%M") if values.quiet_from else "",
              "quiet_until": values.quiet_until.strftime("%H:%M") if values.quiet_until else "",
              "updated_at": timeutil.utcnow()}
    AlertPreference.insert(user=user.id, **fields).on_conflict(
        conflict_target=[AlertPreference.user],
        update={getattr(AlertPreference, k): v for k, v in fields.items()}).execute()


def subscriptions(user: User) -> list[PushSubscription]:
    return list(PushSubscription.select().where(PushSubscription.user == user.id)
                .order_by(PushSubscription.id))


def _key(value, size: int) -> str | None:
    """A base64url key of `size` bytes, as the browser gave it; None if it isn't one."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return value.rstrip("=") if len(raw) == size else None


class NotASubscription(Exception):
    """What the browser sent isn't a push subscription we can use."""


def subscribe(user: User, endpoint, p256dh, auth, label: str = "") -> PushSubscription:
    """Keep this browser's subscription for the account (a browser subscribed by another
    account before is this account's now: one browser, one person signed in)."""
    if not isinstance(endpoint, str) or not endpoint.startswith(("https://", "http://")) \
            or len(endpoint) > MAX_ENDPOINT or any(c.isspace() for c in endpoint):
        raise NotASubscription("The push service's address is missing or not valid.")
    p256dh, auth = _key(p256dh, 65), _key(auth, 16)
    if p256dh is None or auth is None:
        raise NotASubscription("The browser's keys are missing or not valid.")
    label = " ".join(str(label or "").split())[:MAX_LABEL]
    with database.atomic():
        PushSubscription.delete().where(PushSubscription.endpoint == endpoint).execute()
        if PushSubscription.select().where(PushSubscription.user == user.id).count() \
                >= MAX_BROWSERS:
            raise NotASubscription(f"At most {MAX_BROWSERS} browsers are notified: remove one "
                                   "you no longer use first.")
        return PushSubscription.create(user=user.id, endpoint=endpoint, p256dh=p256dh,
                                       auth=auth, label=label)


def remove(user: User, subscription_id: int | None = None, endpoint: str | None = None) -> int:
    """Remove one of the account's subscriptions, by id or by endpoint; returns how many."""
    mine = PushSubscription.user == user.id
    where = mine & (PushSubscription.id == subscription_id) if subscription_id is not None \
        else mine & (PushSubscription.endpoint == (endpoint or ""))
    return PushSubscription.delete().where(where).execute()


# --- seed-demo ----------------------------------------------------------------------------------

DEMO_WAITING = (("Marie Curie", "marie@guestgate.example"),
                ("Alan Turing", "alan@guestgate.example"))


def seed_waiting_guests(rooms: list) -> dict:
    """Two guests who came by the room's demo link three minutes ago and wait to be admitted,
    in each live demo room whose guests wait: the demo shows a waiting list at once, and (no
    host watching) its alert."""
    from datetime import timedelta

    from ..models import GuestLink, Participant, new_device_id

    now = timeutil.utcnow()
    details = {}
    for room in rooms:
        if not (room.require_approval and room.starts_at <= now < room.ends_at):
            continue
        link = GuestLink.get_or_none(GuestLink.room == room.id)
        arrived = now - timedelta(minutes=3)
        for name, email in DEMO_WAITING:
            Participant.create(room=room.id, link=link.id if link else None, name=name,
                               email=email, device=new_device_id(), created_at=arrived,
                               updated_at=arrived)
        details[room.id] = {"waiting": [name for name, _ in DEMO_WAITING]}
    return details
