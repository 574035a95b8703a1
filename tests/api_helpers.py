"""The REST API's tests: a client that knows the API only by its OpenAPI document and checks
every answer it gets against it (openapi-core), over the Flask test client or real HTTP; tokens
made as an owner makes them (portal/services/api_tokens.py)."""

import http.client
import json as jsonlib
from urllib.parse import urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from portal.db import database
from portal.models import ApiToken, User
from portal.services import api_tokens

_documents = {}


def document(app) -> OpenAPI:
    """The app's own document, as a client downloads it (once per app)."""
    if id(app) not in _documents:
        spec = app.test_client().get("/api/v1/openapi.json").get_json()
        _documents.clear()
        # RFC 9457's media type is JSON too (openapi-core knows only application/json's name)
        config = Config(extra_media_type_deserializers={
            "application/problem+json": jsonlib.loads})
        _documents[id(app)] = OpenAPI.from_dict(spec, config=config)
    return _documents[id(app)]


def token_for(user: User, scope: str = "write", days: int = 30, name: str = "tests") -> str:
    with database.connection_context():
        return api_tokens.create(user, name, scope, days)[1]


def token_row(token: str) -> ApiToken:
    with database.connection_context():
        return ApiToken.get(ApiToken.token_hash == api_tokens.hash_token(token))


class Api:
    """`Api(app, token)`: .get/.post/.patch/.put/.delete(path, json=...) through the test
    client; every answer is checked against the OpenAPI document (validate=False for a path
    the document doesn't have, such as an unknown URL)."""

    def __init__(self, app, token: str | None = None, client=None):
        self.app = app
        self.token = token
        self.client = client or app.test_client()
        self.checked = 0

    def headers(self, token=None, extra=None) -> dict:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return {**headers, **(extra or {})}

    def request(self, method: str, path: str, *, json=None, data=None, token=None,
                headers=None, validate=True, query_string=None):
        kwargs = {"headers": self.headers(token, headers), "query_string": query_string}
        if json is not None:
            kwargs["json"] = json
        elif data is not None:
            kwargs["data"] = data
        response = self.client.open(path, method=method, **kwargs)
        if validate:
            # The request as sent (the app may have left its body unread)
            sent = EnvironBuilder(path=path, method=method, **kwargs).get_request()
            check(self.app, sent, response)
            self.checked += 1
        return response

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def check(app, request, response) -> None:
    """openapi-core: the status, the media type and the body are what the document says."""
    document(app).validate_response(WerkzeugOpenAPIRequest(request),
                                    WerkzeugOpenAPIResponse(response))


class HttpApi:
    """The same over real HTTP (http.client to a live server), also checked against the
    document."""

    def __init__(self, app, base_url: str, token: str):
        self.app = app
        self.base = urlsplit(base_url)
        self.token = token

    def request(self, method: str, path: str, json=None, headers=None):
        body = None if json is None else jsonlib.dumps(json).encode()
        sent = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=sent)
            raw = conn.getresponse()
            data = raw.read()
            status, got = raw.status, list(raw.getheaders())
        finally:
            conn.close()
        target = urlsplit(path)
        request = EnvironBuilder(method=method, path=target.path, query_string=target.query,
                                 headers=sent, data=body,
                                 base_url=f"http://{self.base.netloc}").get_request()
        response = Response(data, status=status, headers=got)
        check(self.app, request, response)
        return status, dict(got), jsonlib.loads(data) if data else None
