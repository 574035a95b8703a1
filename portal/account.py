"""An account's own settings: Alerts (/account/alerts) — whether and how Guestgate tells this
account when guests wait unseen (portal/host_alerts.py): email, this browser's notifications
(Web Push: static/push.js subscribes, static/push-worker.js shows them), the browsers
subscribed, quiet hours, and (for invited moderators) the rooms they moderate. For every
signed-in account: owners, and guests with an account who moderate by invitation."""

from datetime import datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from . import host_alerts, webpush
from .forms import AlertPreferencesForm
from .services import alerts

bp = Blueprint("account", __name__, url_prefix="/account")


def _me():
    return current_user._get_current_object()


def _as_time(hhmm: str):
    return datetime.strptime(hhmm, "%H:%M").time() if hhmm else None


def _page(form: AlertPreferencesForm | None = None, status: int = 200):
    me = _me()
    if form is None:
        prefs = host_alerts.preferences(me.id)
        form = AlertPreferencesForm(formdata=None, email=prefs.email, push=prefs.push,
                                    moderated_rooms=prefs.moderated_rooms,
                                    quiet_from=_as_time(prefs.quiet_from),
                                    quiet_until=_as_time(prefs.quiet_until))
    config = current_app.config
    return render_template(
        "account/alerts.html", form=form, browsers=alerts.subscriptions(me),
        vapid_public_key=webpush.public_key(), enabled=config["HOST_ALERTS"],
        after_minutes=max(1, round(config["HOST_ALERT_AFTER_SECONDS"] / 60)),
        every_minutes=max(1, round(config["HOST_ALERT_EVERY_SECONDS"] / 60))), status


@bp.get("/alerts")
@login_required
def alerts_page():
    return _page()


@bp.post("/alerts")
@login_required
def save():
    form = AlertPreferencesForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    alerts.save_preferences(_me(), alerts.Preferences(
        email=form.email.data, push=form.push.data, moderated_rooms=form.moderated_rooms.data,
        quiet_from=form.quiet_from.data, quiet_until=form.quiet_until.data))
    flash("Your alert settings are saved.", "success")
    return redirect(url_for("account.alerts_page"), 303)


@bp.post("/alerts/browsers")
@login_required
def subscribe():
    """static/push.js sends this browser's subscription (JSON, with the CSRF header)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    try:
        row = alerts.subscribe(_me(), data.get("endpoint"), keys.get("p256dh"), keys.get("auth"),
                               request.user_agent.string)
    except alerts.NotASubscription as exc:
        return {"error": str(exc)}, 422
    return {"id": row.id}, 201


@bp.post("/alerts/browsers/forget")
@login_required
def unsubscribe():
    """static/push.js, after this browser unsubscribed: forget it by its endpoint."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    return {"removed": alerts.remove(_me(), endpoint=str(data.get("endpoint") or ""))}


@bp.post("/alerts/browsers/<int:subscription_id>/remove")
@login_required
def remove(subscription_id: int):
    if alerts.remove(_me(), subscription_id=subscription_id):
        flash("That browser is no longer notified.", "success")
    return redirect(url_for("account.alerts_page", _anchor="browsers"), 303)


@bp.post("/alerts/test")
@login_required
def test_notification():
    """A notification to each of the account's browsers now, to see that it arrives."""
    if not alerts.subscriptions(_me()):
        flash("No browser is notified yet: turn it on above first.", "warning")
    else:
        reached = host_alerts.push_to(_me().id, {
            "title": "Guestgate test notification",
            "body": "This browser will be notified when guests wait unseen.",
            "url": url_for("account.alerts_page"), "tag": "guestgate-test"})
        flash(f"Test notification sent; {reached} of your browsers' push services took it.",
              "success" if reached else "warning")
    return redirect(url_for("account.alerts_page", _anchor="browsers"), 303)
