"""The API's errors: RFC 9457 problem details (`application/problem+json`), each with a stable
`code` (a client branches on it; `title` and `detail` are for people), and for invalid input
`errors`, naming each field and what is wrong with it. Every error of an /api/ URL answers so
— a refused token, a rate limit, an unknown URL, a database outage — because portal/security.py,
which answers every error of the app, hands those of the API to `from_http_exception`."""

import json
from http import HTTPStatus

from flask import current_app
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"

# The code of an error that has no more particular one.
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large",
         415: "unsupported_media_type", 422: "invalid", 429: "rate_limited",
         500: "server_error", 503: "unavailable"}
DETAILS = {404: "There is nothing here, or nothing this token may see.",
           422: "Correct the fields named in errors.",
           429: "Too many requests with this token: wait Retry-After seconds.",
           500: "Something went wrong on our side; nothing was changed half-way.",
           503: "Guestgate is briefly unavailable; try again in a moment."}


class Problem(HTTPException):
    """Raise to answer with a problem: `abort(409, "too_many_links", "...")`."""

    def __init__(self, status: int, code: str | None = None, detail: str | None = None,
                 errors: dict | None = None, headers: dict | None = None):
        self.code = status
        super().__init__(detail)
        self.problem_code = code or CODES.get(status, "error")
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def abort(status: int, code: str | None = None, detail: str | None = None,
          errors: dict | None = None, headers: dict | None = None):
    raise Problem(status, code, detail, errors, headers)


def invalid(errors: dict[str, list[str]], code: str = "invalid"):
    """422 naming the fields."""
    abort(422, code, DETAILS[422], errors)


def response(status: int, code: str | None = None, detail: str | None = None,
             errors: dict | None = None, headers: dict | None = None):
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status,
            "code": code or CODES.get(status, "error")}
    detail = detail or DETAILS.get(status)
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    answer = current_app.response_class(json.dumps(body, ensure_ascii=False), status,
                                        mimetype=MEDIA_TYPE)
    answer.headers.update(headers or {})
    return answer


def _fields(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow's nested messages as {"field" or "field.0.sub": [messages]}."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "body": messages}
    if isinstance(messages, dict):
        found = {}
        for key, value in messages.items():
            found.update(_fields(value, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix or "body": [str(messages)]}


def from_http_exception(exc: HTTPException, headers: dict | None = None):
    """Any error of an /api/ URL as a problem (`headers`: those the app adds, Retry-After)."""
    headers = {**(headers or {})}
    if isinstance(exc, Problem):
        return response(exc.code, exc.problem_code, exc.detail, exc.errors,
                        {**exc.headers, **headers})
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    if "messages" in data:  # flask-smorest/webargs: the request's arguments didn't validate
        messages = data["messages"]
        # {"json": {...}, "query": {...}}: the field's name is what matters to the client
        flat = {}
        for location in messages.values() if isinstance(messages, dict) else [messages]:
            flat.update(_fields(location))
        headers.update(data.get("headers") or {})
        if status == 400:  # not JSON at all
            return response(400, "invalid_json", "The body isn't valid JSON.", None, headers)
        return response(422, "invalid", DETAILS[422], flat, headers)
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    return response(status, None, None, None, headers)
