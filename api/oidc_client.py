"""Our side of OpenID Connect: the authorization code flow with PKCE, state and nonce.

authlib builds the authorization request (S256 code challenge) and redeems the
code; the ID token is then checked with joserfc against the provider's JWKS:
signature (asymmetric algorithms only), ``iss`` equal to the configured issuer,
``aud`` containing our client id (and ``azp`` when there are several), the
``nonce`` bound to the browser's login attempt, ``sub`` present, ``exp``/``iat``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from store.login_attempts import LoginAttempt

ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
CLOCK_SKEW_S = 60


class OidcError(Exception):
    """The provider refused or answered something we cannot trust (a 400 for the user)."""


class OidcUnavailable(Exception):
    """The provider could not be reached (a 503 for the user)."""


@dataclass(frozen=True)
class Identity:
    """Who the provider says logged in."""

    issuer: str
    subject: str
    email: str | None


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document we use."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class OidcClient:
    """One configured provider (issuer URL, client id and secret)."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        verify: bool | str = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self._verify = verify
        self._clock = clock
        self._metadata: ProviderMetadata | None = None
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    def _oauth(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope="openid email",
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            timeout=10.0,
            verify=self._verify,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=10.0, verify=self._verify) as http:
                response = await http.get(url)
        except httpx.HTTPError as err:
            raise OidcUnavailable(
                f"the identity provider is unreachable ({type(err).__name__})"
            ) from None
        if response.status_code != 200:
            raise OidcUnavailable(f"the identity provider answered {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise OidcError("the identity provider sent malformed JSON") from None
        if not isinstance(body, dict):
            raise OidcError("the identity provider sent malformed JSON")
        return body

    async def metadata(self) -> ProviderMetadata:
        """The discovery document (fetched once), whose issuer must be exactly ours."""
        if self._metadata is None:
            async with self._lock:
                if self._metadata is None:
                    doc = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
                    if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
                        raise OidcError("the provider's discovery document names another issuer")
                    methods = doc.get("code_challenge_methods_supported")
                    if isinstance(methods, list) and "S256" not in methods:
                        raise OidcError("the provider does not support PKCE with S256")
                    try:
                        self._metadata = ProviderMetadata(
                            authorization_endpoint=str(doc["authorization_endpoint"]),
                            token_endpoint=str(doc["token_endpoint"]),
                            jwks_uri=str(doc["jwks_uri"]),
                        )
                    except KeyError as err:
                        raise OidcError(f"the discovery document lacks {err.args[0]}") from None
        return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            doc = await self._get_json((await self.metadata()).jwks_uri)
            try:
                self._keys = KeySet.import_key_set(doc)  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError):
                raise OidcError("the provider's JWKS is malformed") from None
        return self._keys

    async def authorization_url(self, attempt: LoginAttempt) -> str:
        """Where to send the browser to log in."""
        endpoint = (await self.metadata()).authorization_endpoint
        async with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                endpoint,
                state=attempt.state,
                nonce=attempt.nonce,
                code_verifier=attempt.code_verifier,
            )
        return str(url)

    async def redeem(self, code: str, attempt: LoginAttempt) -> Identity:
        """Exchange the code (with the PKCE verifier) and check the ID token."""
        endpoint = (await self.metadata()).token_endpoint
        try:
            async with self._oauth() as oauth:
                token = await oauth.fetch_token(
                    endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=attempt.code_verifier,
                )
        except (OAuth2Error, OAuthError) as err:
            raise OidcError(f"the provider refused the code ({err.error})") from None
        except httpx.HTTPError as err:
            raise OidcUnavailable(
                f"the identity provider is unreachable ({type(err).__name__})"
            ) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("the provider returned no ID token")
        return await self._check_id_token(id_token, attempt.nonce)

    async def _check_id_token(self, id_token: str, nonce: str) -> Identity:
        try:
            decoded = jwt.decode(id_token, await self._key_set(), algorithms=ID_TOKEN_ALGORITHMS)
        except JoseError:
            # A key rotated at the provider: fetch the JWKS once more.
            try:
                decoded = jwt.decode(
                    id_token, await self._key_set(refresh=True), algorithms=ID_TOKEN_ALGORITHMS
                )
            except (JoseError, ValueError):
                raise OidcError("the ID token's signature does not verify") from None
        except ValueError:
            raise OidcError("the ID token is malformed") from None
        claims = decoded.claims
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=CLOCK_SKEW_S,
            iss={"essential": True, "value": self.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(claims)
        except JoseError as err:
            raise OidcError(
                f"the ID token is not valid for this login ({err.description or err.error})"
            ) from None
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.client_id:
            raise OidcError("the ID token was issued to another client (azp)")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 255:
            raise OidcError("the ID token's subject is invalid")
        email = claims.get("email")
        return Identity(
            issuer=self.issuer,
            subject=subject,
            email=email if isinstance(email, str) and 3 <= len(email) <= 254 else None,
        )
