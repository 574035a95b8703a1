"""The REST API under /api/v1, described by OpenAPI 3 (/api/v1/openapi.json), with its
reference page at /api/v1/docs.

A door like the screens: each view parses its input with a schema (portal/api/schemas.py),
calls one service (portal/services/*), and answers JSON; errors are problem details
(portal/api/problems.py). Who calls is the account of the request's API token
(portal/api/auth.py), which sees exactly the rooms its screens show it (owned_room).

flask-smorest writes the document from the same schemas and routes that parse and answer, so
the document can't drift from what the API does; it is a plain Flask blueprint library (our app
factory, error pages, limiter and CSRF stay as they are), built on marshmallow and apispec."""

from flask import Flask

API_PREFIX = "/api/v1"


def init_app(app: Flask) -> None:
    from flask_smorest import Api
    from flask_smorest.utils import prepare_response

    from . import (
        audit,
        denials,
        invitations,
        links,
        people,
        reference,
        registration,
        rooms,
        tokens,
        webhooks,
    )
    from .problems import MEDIA_TYPE
    from .schemas import ProblemSchema

    class GuestgateApi(Api):
        ERROR_SCHEMA = ProblemSchema

        def _register_error_handlers(self):
            """None: portal/security.py answers every error, those of /api/ as problems."""

        def _register_responses(self):
            # Every error response is a problem (application/problem+json).
            import http

            for status in http.HTTPStatus:
                response = {"description": status.phrase}
                if not (100 <= status < 200) and status not in (204, 304):
                    response["schema"] = self.ERROR_SCHEMA
                prepare_response(response, self.spec, MEDIA_TYPE)
                self.spec.components.response(status.name, response, lazy=True)
            response = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
            prepare_response(response, self.spec, MEDIA_TYPE)
            self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    app.config.setdefault("API_TITLE", "Guestgate API")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "Rooms, guest links, invitations, the waiting room and who is "
                                "inside, registration, denial reasons and the audit log of "
                                "Guestgate. "
                                "Authenticate with a personal API token: "
                                "`Authorization: Bearer gg_...`. Errors are RFC 9457 problem "
                                "details with a stable `code`."},
        "security": [{"bearerAuth": []}],
    })
    api = GuestgateApi(app)
    api.spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A personal API token (the API tokens screen, or flask create-api-token)"})
    for module in (rooms, links, invitations, people, registration, denials, audit, webhooks):
        api.register_blueprint(module.blp)
    app.register_blueprint(reference.bp)
    app.register_blueprint(tokens.bp)
    app.extensions["guestgate_api"] = api
