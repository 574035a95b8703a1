"""Admin screens: users (and, with invitations, the email-domain rules)."""

from flask import Blueprint, flash, redirect, render_template, url_for
from peewee import IntegrityError

from . import passwords
from .auth import admin_required
from .db import database
from .forms import NewUserForm
from .models import User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.route("/users", methods=["GET", "POST"])
@admin_required
def users():
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            with database.atomic():
                user = User.create(email=form.email.data, name=form.name.data or "",
                                   access=form.access.data,
                                   password_hash=passwords.hash_password(form.password.data))
        except IntegrityError:
            form.email.errors.append("An account with this email already exists.")
        else:
            flash(f"{user.email} added with {user.access} access.", "success")
            return redirect(url_for("admin.users"), 303)
    users = list(User.select().order_by(User.access, User.email))
    return render_template("admin/users.html", form=form, users=users), \
        422 if form.errors else 200
