"""Webhooks, the owner's screen (/webhooks): their endpoints — URL, events, some rooms only —
the secret shown once (at creation and after Rotate secret), enable or disable, delete, the
delivery log with Send again, and Send test event. Every view calls portal/services/webhooks.py
and reaches an endpoint only through `own_endpoint`: another owner's is a 404."""

from flask import Blueprint, abort, flash, make_response, render_template
from flask_login import current_user
from wtforms import SelectChoice

from .. import outbox
from ..auth import owner_required
from ..forms import ActionForm, EndpointForm
from ..services import webhooks
from ..web import see_other

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _form(endpoint=None) -> EndpointForm:
    form = EndpointForm(obj=None)
    form.rooms.choices = [SelectChoice(str(r.id), r.title) for r in
                          webhooks.visible_rooms(current_user._get_current_object()).limit(500)]
    if endpoint is not None and not form.is_submitted():
        form.url.data, form.description.data = endpoint.url, endpoint.description
        form.events.data = endpoint.event_list
        form.rooms.data = [str(i) for i in endpoint.room_id_list]
    return form


def own_endpoint(endpoint_id: int):
    endpoint = webhooks.endpoint_of(current_user._get_current_object(), endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _private(response):
    """A page with a secret on it: never stored by a cache or the browser's history."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _list_page(form=None, status: int = 200):
    owner = current_user._get_current_object()
    return render_template("owner/webhooks.html", endpoints=webhooks.endpoints_of(owner),
                           form=form or _form(), events=outbox.EVENTS), status


@bp.get("/")
@owner_required
def endpoints():
    return _list_page()


@bp.post("/")
@owner_required
def create():
    form = _form()
    if not form.validate_on_submit():
        return _list_page(form, 422)
    try:
        endpoint, secret = webhooks.create_endpoint(
            current_user._get_current_object(), form.url.data, form.events.data,
            form.rooms.data, form.description.data or "")
    except webhooks.Invalid as exc:
        getattr(form, "rooms" if exc.field == "room_ids" else exc.field).errors.append(
            exc.message)
        return _list_page(form, 422)
    return _private(render_template("owner/webhook_secret.html", endpoint=endpoint,
                                    secret=secret, created=True))


def _endpoint_page(endpoint, form=None, status: int = 200):
    return render_template("owner/webhook.html", endpoint=endpoint, form=form or _form(endpoint),
                           action=ActionForm(), events=outbox.EVENTS,
                           deliveries=webhooks.deliveries(endpoint)), status


@bp.get("/<int:endpoint_id>")
@owner_required
def endpoint(endpoint_id: int):
    return _endpoint_page(own_endpoint(endpoint_id))


@bp.get("/<int:endpoint_id>/deliveries")
@owner_required
def delivery_log(endpoint_id: int):
    """The delivery log alone (the page polls it with htmx)."""
    endpoint = own_endpoint(endpoint_id)
    return render_template("owner/_webhook_deliveries.html", endpoint=endpoint,
                           action=ActionForm(), deliveries=webhooks.deliveries(endpoint))


@bp.post("/<int:endpoint_id>/edit")
@owner_required
def edit(endpoint_id: int):
    endpoint = own_endpoint(endpoint_id)
    form = _form(endpoint)
    if not form.validate_on_submit():
        return _endpoint_page(endpoint, form, 422)
    try:
        webhooks.update_endpoint(endpoint, form.url.data, form.events.data, form.rooms.data,
                                 form.description.data or "")
    except webhooks.Invalid as exc:
        getattr(form, "rooms" if exc.field == "room_ids" else exc.field).errors.append(
            exc.message)
        return _endpoint_page(endpoint, form, 422)
    flash("Endpoint saved.", "success")
    return see_other("webhooks.endpoint", endpoint_id=endpoint.id)


def _acted(endpoint_id: int):
    """The endpoint of a button's POST, its CSRF token checked."""
    endpoint = own_endpoint(endpoint_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    return endpoint


@bp.post("/<int:endpoint_id>/enable")
@owner_required
def enable(endpoint_id: int):
    webhooks.set_enabled(_acted(endpoint_id), True)
    flash("Endpoint enabled: events are delivered to it again.", "success")
    return see_other("webhooks.endpoint", endpoint_id=endpoint_id)


@bp.post("/<int:endpoint_id>/disable")
@owner_required
def disable(endpoint_id: int):
    webhooks.set_enabled(_acted(endpoint_id), False)
    flash("Endpoint disabled: no events are sent to it until you enable it.", "success")
    return see_other("webhooks.endpoint", endpoint_id=endpoint_id)


@bp.post("/<int:endpoint_id>/rotate")
@owner_required
def rotate(endpoint_id: int):
    endpoint = _acted(endpoint_id)
    secret = webhooks.rotate_secret(endpoint)
    return _private(render_template("owner/webhook_secret.html", endpoint=endpoint,
                                    secret=secret, created=False))


@bp.post("/<int:endpoint_id>/test")
@owner_required
def send_test(endpoint_id: int):
    webhooks.send_test(_acted(endpoint_id))
    flash("Test event queued: it appears in the delivery log below.", "success")
    return see_other("webhooks.endpoint", endpoint_id=endpoint_id)


@bp.post("/<int:endpoint_id>/deliveries/<int:delivery_id>/resend")
@owner_required
def resend(endpoint_id: int, delivery_id: int):
    if webhooks.resend(_acted(endpoint_id), delivery_id) is None:
        abort(404)
    flash("Queued again, with the same webhook-id.", "success")
    return see_other("webhooks.endpoint", endpoint_id=endpoint_id)


@bp.post("/<int:endpoint_id>/delete")
@owner_required
def delete(endpoint_id: int):
    endpoint = _acted(endpoint_id)
    webhooks.delete_endpoint(endpoint)
    flash(f"Endpoint {endpoint.url} deleted.", "success")
    return see_other("webhooks.endpoints")


