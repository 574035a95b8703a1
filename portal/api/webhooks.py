"""The account's own webhook endpoints: register (the secret answered once), list, get, change
(URL, events, rooms, description, enabled), rotate the secret (the new one answered once), send
a test event, the delivery log and Send again, delete. portal/services/webhooks.py does what
they ask, as for the owner's Webhooks screen (portal/owner/webhooks.py).

Endpoints are personal: another account's — an admin's neither sees them — is a 404, exactly as
one that doesn't exist."""

from flask_login import current_user

from ..db import database
from ..models import WebhookDelivery, WebhookEndpoint
from ..services import webhooks as service
from . import schemas
from .auth import Blueprint, protect
from .problems import abort, invalid

blp = Blueprint("api_webhooks", __name__, url_prefix="/api/v1/webhooks",
                description="Webhook endpoints: Guestgate POSTs the events each wants, signed "
                            "to the Standard Webhooks specification (docs/webhooks.md).")
protect(blp)


def webhook_json(endpoint: WebhookEndpoint) -> dict:
    return {"id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
            "events": endpoint.event_list, "room_ids": endpoint.room_id_list,
            "enabled": endpoint.status == "active", "status": endpoint.status,
            "status_detail": endpoint.status_detail,
            "previous_secret_until": endpoint.previous_secret_until,
            "created_at": endpoint.created_at, "updated_at": endpoint.updated_at}


def delivery_json(delivery: WebhookDelivery) -> dict:
    event = delivery.event
    return {"id": delivery.id, "event_id": event.event_id, "type": event.type,
            "status": delivery.status, "attempts": delivery.attempts,
            "last_status": delivery.last_status, "last_error": delivery.last_error,
            "last_attempt_at": delivery.last_attempt_at,
            "next_attempt_at": delivery.next_attempt_at if delivery.status == "pending"
            else None,
            "delivered_at": delivery.delivered_at, "created_at": delivery.created_at}


def _me():
    return current_user._get_current_object()


def _endpoint(webhook_id: int) -> WebhookEndpoint:
    endpoint = service.endpoint_of(_me(), webhook_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _fresh(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.get_by_id(endpoint.id)


def _refused(exc: service.Invalid):
    invalid({exc.field: [exc.message]})


@blp.route("", methods=["GET"])
@blp.response(200, schemas.WebhookList)
def list_webhooks():
    """This account's endpoints (never another's, an admin's neither)."""
    return {"items": [webhook_json(e) for e in service.endpoints_of(_me())]}


@blp.route("", methods=["POST"])
@blp.arguments(schemas.WebhookCreate)
@blp.response(201, schemas.WebhookCreated)
def create_webhook(data):
    """A new active endpoint. Its signing `secret` (whsec_...) is in this answer only."""
    try:
        endpoint, secret = service.create_endpoint(_me(), data["url"], data["events"],
                                                   data["room_ids"], data["description"])
    except service.Invalid as exc:
        _refused(exc)
    return {**webhook_json(_fresh(endpoint)), "secret": secret}


@blp.route("/<int:webhook_id>", methods=["GET"])
@blp.response(200, schemas.WebhookSchema)
def get_webhook(webhook_id):
    return webhook_json(_endpoint(webhook_id))


@blp.route("/<int:webhook_id>", methods=["PATCH"])
@blp.arguments(schemas.WebhookUpdate)
@blp.response(200, schemas.WebhookSchema)
def update_webhook(data, webhook_id):
    """Any of url, events, room_ids, description, enabled; all or nothing changes."""
    endpoint = _endpoint(webhook_id)
    if not data:
        invalid({"body": ["Send url, events, room_ids, description or enabled."]})
    fields = {k: data[k] for k in ("url", "events", "room_ids", "description") if k in data}
    try:
        with database.atomic():
            if fields:
                service.update_endpoint(endpoint, **fields)
            if "enabled" in data:
                service.set_enabled(endpoint, data["enabled"])
    except service.Invalid as exc:
        _refused(exc)
    return webhook_json(_fresh(endpoint))


@blp.route("/<int:webhook_id>", methods=["DELETE"])
@blp.response(204)
def delete_webhook(webhook_id):
    """Gone, with its delivery log; nothing more is sent to it."""
    service.delete_endpoint(_endpoint(webhook_id))


@blp.route("/<int:webhook_id>/rotate-secret", methods=["POST"])
@blp.response(200, schemas.SecretSchema)
def rotate_secret(webhook_id):
    """A new signing secret, in this answer only. The previous one signs too (a second
    signature) until `previous_secret_until` (WEBHOOK_SECRET_GRACE_HOURS)."""
    endpoint = _endpoint(webhook_id)
    secret = service.rotate_secret(endpoint)
    return {"secret": secret, "previous_secret_until": _fresh(endpoint).previous_secret_until}


@blp.route("/<int:webhook_id>/test", methods=["POST"])
@blp.response(202, schemas.DeliverySchema)
def send_test(webhook_id):
    """A `webhook.test` event to this endpoint alone, due now (a disabled endpoint gets it
    once enabled)."""
    delivery = service.send_test(_endpoint(webhook_id))
    return delivery_json(WebhookDelivery.get_by_id(delivery.id))


@blp.route("/<int:webhook_id>/deliveries", methods=["GET"])
@blp.arguments(schemas.DeliveryArgs, location="query")
@blp.response(200, schemas.DeliveryList)
def list_deliveries(args, webhook_id):
    """The delivery log, newest first."""
    endpoint = _endpoint(webhook_id)
    return {"items": [delivery_json(d) for d in service.deliveries(endpoint, args["limit"])]}


@blp.route("/<int:webhook_id>/deliveries/<int:delivery_id>/resend", methods=["POST"])
@blp.response(202, schemas.DeliverySchema)
def resend(webhook_id, delivery_id):
    """Send again: a new delivery of the same event (the same webhook-id), due now."""
    delivery = service.resend(_endpoint(webhook_id), delivery_id)
    if delivery is None:
        abort(404)
    return delivery_json(WebhookDelivery.get_by_id(delivery.id))
