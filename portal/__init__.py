"""Guestgate: a self-hosted guest-entry portal for live sessions."""

from pathlib import Path

from flask import Flask


def create_app(config: dict | None = None) -> Flask:
    # templates/ and static/ are at the top of a checkout (an editable install runs from it
    # too), with instance/ beside them; an installed wheel carries them in the package
    # (pyproject.toml), and its instance folder is Flask's for installed apps,
    # <prefix>/var/portal-instance — never inside site-packages.
    here = Path(__file__).resolve().parent
    installed = (here / "templates").is_dir()
    files = here if installed else here.parent
    app = Flask(__name__, template_folder=str(files / "templates"),
                static_folder=str(files / "static"),
                instance_path=None if installed else str(files / "instance"))
    from . import config as settings
    from .web import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any route is added

    app.config.from_mapping(settings.from_environment(Path(app.instance_path)))
    if config:
        app.config.update(config)
        if "SECRET_KEY" in config and "SECRET_KEYS" not in config:
            app.config["SECRET_KEYS"] = [config["SECRET_KEY"]]
    # Sessions signed with an old key (OLD_SECRET_KEYS) still open after a rotation, signed-out.
    app.config["SECRET_KEY_FALLBACKS"] = [k for k in app.config["SECRET_KEYS"]
                                          if k != app.config["SECRET_KEY"]]
    from . import meetings
    from .sessions import CookieSessionInterface

    meetings.check_settings(app.config)  # a half-configured platform stops the start, saying why
    from . import sso

    sso.check_settings(app.config)  # and so does half-configured single sign-on
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        # The client address and scheme as the proxies saw them; never the Host (links are
        # built from BASE_URL).
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0,
                                x_prefix=0)

    app.session_interface = CookieSessionInterface()
    https = app.config["BASE_URL"].startswith("https://")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = https
    app.config["REMEMBER_COOKIE_SECURE"] = https
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = 60 * 60 * 24 * 30
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # tied to the session; forms left open still work
    app.config["WTF_CSRF_SSL_STRICT"] = False  # SameSite=Lax + token; proxies may rewrite Referer
    settings.private_folder(app.config["UPLOAD_FOLDER"])

    from . import db, extensions, i18n, models, ratelimit, security

    db.init_app(app, models)
    extensions.csrf.init_app(app)
    extensions.htmx.init_app(app)
    security.keep_retry_after(app)  # before the limiter's hooks, so that it runs after them
    ratelimit.init_app(extensions.limiter, app)
    extensions.mail.init_app(app)
    security.init_app(app)
    i18n.init_app(app)

    from . import api, auth, cli, guest, web
    from .admin import bp as admin_bp
    from .owner import bp as owner_bp

    auth.init_app(app)
    sso.init_app(app)
    web.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(owner_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(guest.bp)
    api.init_app(app)
    from .owner.webhooks import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)
    from .account import bp as account_bp

    app.register_blueprint(account_bp)
    cli.init_app(app)
    if app.config["QUICK_POLL"]:
        from .quickpoll import QuickPoll

        app.wsgi_app = QuickPoll(app, app.wsgi_app)  # outermost: an unchanged poll ends here
    return app
