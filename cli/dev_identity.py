"""The development login ``mb up`` runs when no ``MB_OIDC_ISSUER`` is set.

A thin adapter over ``oidc-provider-mock``, a maintained OpenID provider built on
authlib (the one our OIDC client is also tested against in
``tests/api/test_login.py``). The adapter

* builds the provider with client registration and the ``nonce`` required, and
  no refresh tokens (our API never uses one);
* turns off the Werkzeug debugger the package switches on: it shows whoever
  causes an error its traceback and source, and its console, one flag away, runs
  code in ``mb up`` for anyone on loopback who learns the PIN;
* adds a Content-Security-Policy, so its pages load nothing from outside (they
  link a stylesheet on a public CDN) and post only to itself and to our API (whose
  callback may send the browser on to the operators' origin: browsers hold a form's
  redirects to ``form-action`` too);
* registers our API through the provider's own RFC 7591 endpoint, with the one
  redirect URI it uses, and hands the issued client id and secret to the API
  (a new secret every start: ``mb up`` runs both);
* serves it on loopback with uvicorn (through ``a2wsgi``), like every other
  server of ``mb up``.

It lives in ``cli/``, beside the command that starts it, never in ``api/``: the
production API knows only a provider's issuer URL, client id and secret.

What the provider cannot do that a real one does, and what covers for it:

* It does not enforce PKCE: it ignores ``code_challenge`` and ``code_verifier``.
  Our client always sends S256 (``tests/api/test_login_dev_provider.py`` checks the
  challenge against the verifier it redeems with); against a real provider PKCE
  is enforced there.
* It never sets ``email_verified``: the subject is whatever text was typed, taken
  as the email too, so our own verification mail decides. Text that is no email
  address logs in, but gets no verification mail (and so cannot deploy).
* The subject is the typed text exactly: ``Nina@Example.com`` and
  ``nina@example.com`` are two users.
* Its state is in memory: a restart forgets codes (a login in flight must start
  again) and draws a new signing key. Our sessions are our own and survive, and
  the same address logs in as the same user (issuer + subject) after a restart.
* Its login page lists the subjects that logged in recently, anyone on loopback
  may register a client or set a user's claims, and any text logs in: it is for
  a development machine only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import flask
import uvicorn
from a2wsgi import WSGIMiddleware
from authlib.deprecate import AuthlibDeprecationWarning
from pydantic import SecretStr
from werkzeug.debug import DebuggedApplication

from schemas.settings import Settings

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

with warnings.catch_warnings():
    # it imports authlib.jose, which warns (always) on import: every `mb` command would say so
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    import oidc_provider_mock  # type: ignore[import-untyped]

CALLBACK_PATH = "/v1/auth/callback"
REGISTRATION_PATH = "/oauth2/clients"


@dataclass(frozen=True)
class DevIdentity:
    """The development provider (a WSGI app, debugger off) and where it is served."""

    app: WSGIApplication
    host: str
    port: int

    def server_config(self) -> uvicorn.Config:
        """How ``mb up`` serves it: uvicorn on loopback, the WSGI app through a2wsgi."""
        return uvicorn.Config(
            WSGIMiddleware(self.app),  # type: ignore[arg-type]
            host=self.host,
            port=self.port,
            lifespan="off",
            proxy_headers=False,
            log_level="warning",
        )


@dataclass(frozen=True)
class Registration:
    """The client the provider issued to our API."""

    client_id: str
    client_secret: SecretStr


def create_provider(
    redirect_uri: str, *, lands_on: tuple[str, ...] = ()
) -> tuple[flask.Flask, Registration]:
    """The provider, with our API registered as its client for ``redirect_uri`` alone;
    after the callback, a login may also land on the origins ``lands_on``."""
    app: flask.Flask = oidc_provider_mock.app(
        require_client_registration=True, require_nonce=True, issue_refresh_token=False
    )
    app.debug = False
    while isinstance(app.wsgi_app, DebuggedApplication):
        app.wsgi_app = app.wsgi_app.app  # type: ignore[method-assign, assignment]
    parts = urlsplit(redirect_uri)
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"form-action 'self' {' '.join((f'{parts.scheme}://{parts.netloc}', *lands_on))}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )

    @app.after_request
    def content_security_policy(response: flask.Response) -> flask.Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        return response

    # In-process, before the provider serves anyone: no moment without our client.
    answer = app.test_client().post(
        REGISTRATION_PATH,
        json={"redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_basic"},
    )
    body = answer.get_json(silent=True)
    if answer.status_code != 201 or not isinstance(body, dict):
        raise ValueError(
            f"the development OIDC provider refused our redirect URI {redirect_uri}: "
            f"{answer.get_data(as_text=True).strip()[:200]}"
        )
    (registered,) = body["redirect_uris"]
    if registered != redirect_uri:  # it would never send a code to the URI we ask for
        raise ValueError(
            f"the development OIDC provider registered our redirect URI {redirect_uri} as "
            f"{registered}: set MB_PUBLIC_URL to {registered.removesuffix(CALLBACK_PATH)}"
        )
    return app, Registration(str(body["client_id"]), SecretStr(str(body["client_secret"])))


def dev_identity_provider(settings: Settings) -> tuple[Settings, DevIdentity | None]:
    """With no ``MB_OIDC_ISSUER``, the development provider on the API's host at
    ``MB_OIDC_DEV_PORT``, and the settings that point the API at it; otherwise the
    settings unchanged and no provider."""
    if settings.oidc_issuer is not None:
        return settings, None
    app, client = create_provider(
        f"{settings.api_base_url}{CALLBACK_PATH}", lands_on=(settings.operator_base_url,)
    )
    configured = settings.model_copy(
        update={
            # the provider names itself after the Host it is reached at: this one
            "oidc_issuer": f"http://{settings.api_host}:{settings.oidc_dev_port}",
            "oidc_client_id": client.client_id,
            "oidc_client_secret": client.client_secret,
        }
    )
    return configured, DevIdentity(app, settings.api_host, settings.oidc_dev_port)
