"""The "API tokens" screen (/api-tokens): an owner makes personal access tokens (name, read or
write, how many days), sees each once, lists and revokes them; an admin also sees and revokes
every account's. portal/services/api_tokens.py does the work. An ordinary signed-in screen
(session and CSRF), unlike the API itself."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from .. import timeutil
from ..audit import Actor
from ..auth import owner_required
from ..forms import WholeNumberField, no_control_characters, strip
from ..models import ApiToken
from ..services import api_tokens

bp = Blueprint("api_tokens", __name__, url_prefix="/api-tokens")


class TokenForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[
        DataRequired("Name the token after what uses it, such as “LMS sync”."),
        Length(max=api_tokens.NAME_MAX), no_control_characters()])
    scope = RadioField("Scope", default="read", choices=[
        SelectChoice("read", "Read: see rooms, links, invitations, people and logs"),
        SelectChoice("write", "Write: also create, change and delete, as you can on screen")],
        validators=[DataRequired("Choose read or write.")])
    days = WholeNumberField("Expires after (days)", default=30, validators=[
        InputRequired("Enter a number of days."),
        NumberRange(1, api_tokens.MAX_DAYS,
                    f"Enter a whole number of days from 1 to {api_tokens.MAX_DAYS}.")],
        render_kw={"min": 1, "max": api_tokens.MAX_DAYS, "step": 1, "inputmode": "numeric"})


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    me = current_user._get_current_object()
    everyone = list(api_tokens.every_live()) if me.is_admin else []
    return render_template("api/tokens.html", form=form, new_token=new_token,
                           tokens=list(api_tokens.live(me)), everyone=everyone,
                           now=timeutil.utcnow()), status


@bp.get("")
@owner_required
def tokens():
    return _page(TokenForm(formdata=None))


@bp.post("")
@owner_required
def create():
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    me = current_user._get_current_object()
    _row, token = api_tokens.create(me, form.name.data, form.scope.data, form.days.data)
    # Shown in this answer only (no redirect: the token must not be kept anywhere to show it
    # again; every page is Cache-Control: no-store).
    return _page(TokenForm(formdata=None), new_token=token, status=201)


@bp.post("/<int:token_id>/revoke")
@owner_required
def revoke(token_id: int):
    me = current_user._get_current_object()
    token = ApiToken.get_or_none(ApiToken.id == token_id)
    if token is None or (token.user_id != me.id and not me.is_admin):
        abort(404)  # another account's token: as if it didn't exist
    if api_tokens.revoke(token, Actor.of_account(me)):
        flash(f"The token “{token.name}” is revoked: it no longer works.", "success")
    return redirect(url_for("api_tokens.tokens"), 303)
