"""Extension objects, attached to the app in create_app."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from . import ratelimit  # noqa: F401 - registers database:// and local://

csrf = CSRFProtect()
login_manager = LoginManager()
mail = Mail()
htmx = Htmx()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
