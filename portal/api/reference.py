"""The API's reference page (/api/v1/docs): Swagger UI from its PyPI package (swagger-ui-bundle),
its files served from here — no CDN, and no inline script: the page's own script is a file in
static/, so the app's CSP (default-src 'self') stays as it is."""

from pathlib import Path

from flask import Blueprint, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("api_reference", __name__, url_prefix="/api/v1/docs")

ASSETS = Path(swagger_ui_path)
FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
         "favicon-32x32.png")


@bp.get("")
def page():
    return render_template("api/reference.html")


@bp.get("/assets/<name>")
def asset(name: str):
    if name not in FILES:  # only what the page uses
        from .problems import abort

        abort(404)
    return send_from_directory(ASSETS, name, max_age=60 * 60 * 24)
