"""A development OpenID Connect provider, run locally by ``mb up``.

A new user can log in without a real identity provider: the login page asks
only for an email address (no password) and any address signs in. Because it
is what our OIDC client is tested against, everything else is strict and
protocol-correct:

* Authorization Code flow only (OpenID Connect Core 1.0 §3.1), with PKCE
  ``S256`` required (RFC 7636; ``plain`` is refused), ``state`` and ``nonce``
  required, and the redirect URI matched exactly against the registered ones.
  Errors about the client or its redirect URI are shown, never redirected
  (RFC 6749 §4.1.2.1); the authorization response carries ``iss`` (RFC 9207).
* The token endpoint authenticates confidential clients by
  ``client_secret_basic`` or ``client_secret_post`` (constant-time compare),
  codes live 60 s and are single use (a failed redemption burns the code, a
  replay revokes the access token issued for it, RFC 6749 §4.1.2) and errors
  follow RFC 6749 §5.2.
* ID tokens are RS256-signed JWTs with a ``kid`` (the RFC 7638 thumbprint of
  the key published at ``/jwks``). ``email_verified`` is always false: this
  provider cannot verify mail. Email claims are released only for the
  ``email`` scope (OpenID Connect Core §5.4).
* ``sub`` is stable per email address (case-insensitively), so a user keeps
  their account across restarts of the provider.

State (codes, access tokens) is in memory: a single process is assumed. The
signing key and the client secret persist in owner-only files, see
:meth:`DevSigningKey.load_or_create` and :func:`load_or_create_client_secret`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import hmac
import html
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import RSAKey

CODE_TTL_S: Final = 60
TOKEN_TTL_S: Final = 300
"""Lifetime of access tokens and ID tokens (``expires_in``; ``exp - iat``)."""
SIGNING_ALG: Final = "RS256"
RSA_KEY_BITS: Final = 2048
SUPPORTED_SCOPES: Final = ("openid", "email", "profile")
MAX_EMAIL_LENGTH: Final = 254
MAX_PARAM_LENGTH: Final = 2048
"""Upper bound for ``state``, ``nonce`` and ``login_hint``."""
MAX_FORM_BYTES: Final = 32 * 1024
MAX_FORM_FIELDS: Final = 32
MAX_PRIVATE_FILE_BYTES: Final = 64 * 1024
SUB_PREFIX: Final = "dev-"

_FORM_TYPE: Final = "application/x-www-form-urlencoded"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_COMMON_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_DEFAULT_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;padding:0 1rem;"
    "line-height:1.45}label{display:block;margin:1rem 0 .3rem}"
    "input[type=email]{width:100%;padding:.5rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.5rem 1.2rem}.note{color:#555;font-size:.9rem}"
    ".error{color:#a00}code{word-break:break-all}"
)
_STYLE_SRC: Final = (
    "'sha256-" + base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode() + "'"
)
_REALM: Final = 'realm="microbuilder-dev-oidc"'
_SELF: Final = "'self'"

_CLIENT_SECRET_RE: Final = re.compile(r"[A-Za-z0-9_-]{43,}")
_CODE_CHALLENGE_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")
_CODE_VERIFIER_RE: Final = re.compile(r"[A-Za-z0-9._~-]{43,128}")
_VSCHAR_RE: Final = re.compile(r"[\x20-\x7e]+")
_B64TOKEN_RE: Final = re.compile(r"[A-Za-z0-9._~+/-]+=*")
_ORIGIN_RE: Final = re.compile(r"[a-z][a-z0-9+.-]*://[A-Za-z0-9.:\[\]_~%!$&()*+=-]+")
_DOT_ATOM: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL_RE: Final = re.compile(rf"(?P<local>{_DOT_ATOM})@{_LABEL}(?:\.{_LABEL})*", re.ASCII)


# --------------------------------------------------------------------------- files


def _refuse_unless_private(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is not a regular file; refusing to use it")
    if st.st_uid != os.getuid():
        raise ValueError(f"{path} is owned by uid {st.st_uid}, not by this user; refusing it")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise ValueError(
            f"{path} has mode {mode:04o}, so group or others can access it and it may "
            "have been exposed; delete it to have a new one generated (or, if you are "
            f"sure it was not exposed, `chmod 600 {path}`)"
        )


def _read_private_file(path: Path) -> bytes | None:
    """The file's bytes, None when it does not exist; refuses anything not owner-only."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ValueError(f"{path} is a symbolic link; refusing to follow it") from None
        raise
    with os.fdopen(fd, "rb") as file:
        _refuse_unless_private(path, os.fstat(file.fileno()))
        data = file.read(MAX_PRIVATE_FILE_BYTES + 1)
    if len(data) > MAX_PRIVATE_FILE_BYTES:
        raise ValueError(f"{path} is larger than {MAX_PRIVATE_FILE_BYTES} bytes; refusing it")
    return data


def _ensure_private_dir(directory: Path) -> None:
    """Create ``directory`` (and missing parents) 0700; refuse one others can write to."""
    missing: list[Path] = []
    probe = directory
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for created in reversed(missing):
        os.chmod(created, 0o700)  # mkdir's mode is filtered by the umask, parents' ignored
    st = directory.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{directory} is not a directory")
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid not in (os.getuid(), 0):
        raise ValueError(f"{directory} is owned by uid {st.st_uid}; refusing to write into it")
    if mode & 0o022 and not mode & stat.S_ISVTX:
        raise ValueError(
            f"{directory} has mode {mode:04o}: others could replace files in it; "
            "refusing to write into it"
        )


def _write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` mode 0600, atomically (temporary file + os.replace)."""
    _ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), 0o600)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class DevSigningKey:
    """The provider's RSA-2048 ID token signing key, with its RFC 7638 thumbprint as ``kid``.

    The representation never shows key material.
    """

    __slots__ = ("_key", "_kid")

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise TypeError("the signing key must be an RSA private key")
        if private_key.key_size < RSA_KEY_BITS:
            raise ValueError(f"the signing key must have at least {RSA_KEY_BITS} bits")
        self._key = RSAKey.import_key(private_key)
        self._kid = self._key.thumbprint()

    @classmethod
    def generate(cls) -> DevSigningKey:
        """A new in-memory key (not persisted)."""
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_BITS))

    @classmethod
    def load_or_create(cls, path: Path) -> DevSigningKey:
        """Load the PEM key at ``path``, or generate one and store it there.

        A new key is written atomically, mode 0600, in a directory created 0700.
        An existing file must be a regular file (not a symlink) owned by this user
        and accessible by nobody else, else ``ValueError`` (whose message never
        contains key material).
        """
        data = _read_private_file(path)
        if data is None:
            key = cls.generate()
            _write_private_file(path, key.private_pem())
            return key
        try:
            private_key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(f"{path} does not hold an unencrypted PEM private key") from None
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        if private_key.key_size < RSA_KEY_BITS:
            raise ValueError(f"{path} holds an RSA key smaller than {RSA_KEY_BITS} bits")
        return cls(private_key)

    @property
    def kid(self) -> str:
        """The key id: the RFC 7638 SHA-256 thumbprint of the public key."""
        return self._kid

    @property
    def key(self) -> RSAKey:
        """The (private) joserfc key that signs ID tokens."""
        return self._key

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK (no private members), with kid, alg and use."""
        public = self._key.as_dict(private=False)
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": SIGNING_ALG,
            "kid": self._kid,
            "n": str(public["n"]),
            "e": str(public["e"]),
        }

    def private_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM (what :meth:`load_or_create` stores)."""
        private_key = self._key.private_key
        if private_key is None:  # pragma: no cover - the constructor takes private keys only
            raise ValueError("not a private key")
        return private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"DevSigningKey(kid={self._kid!r})"


def load_or_create_client_secret(path: Path) -> str:
    """Load the client secret at ``path``, or generate one (32 random bytes, URL-safe).

    Same file rules as :meth:`DevSigningKey.load_or_create`: written atomically,
    0600, in a 0700 directory; an existing file accessible by others is refused.
    """
    data = _read_private_file(path)
    if data is None:
        secret = secrets.token_urlsafe(32)
        _write_private_file(path, (secret + "\n").encode("ascii"))
        return secret
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{path} does not hold a client secret") from None
    if not _CLIENT_SECRET_RE.fullmatch(text):
        raise ValueError(
            f"{path} does not hold a client secret (at least 43 URL-safe base64 characters)"
        )
    return text


# --------------------------------------------------------------------------- clients


def _check_redirect_uri(uri: str) -> None:
    parts = urlsplit(uri)
    if not parts.scheme or "#" in uri or not _VSCHAR_RE.fullmatch(uri) or " " in uri:
        raise ValueError(f"redirect URI {uri!r} must be an absolute URI without a fragment")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise ValueError(f"redirect URI {uri!r} has no host")


@dataclass(frozen=True)
class DevClient:
    """A registered (confidential) OAuth client; its secret is kept out of ``repr``."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uris: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _VSCHAR_RE.fullmatch(self.client_id):
            raise ValueError("client_id must be non-empty printable ASCII")
        if not _VSCHAR_RE.fullmatch(self.client_secret):
            raise ValueError("client_secret must be non-empty printable ASCII")
        if not isinstance(self.redirect_uris, tuple) or not self.redirect_uris:
            raise ValueError("redirect_uris must be a non-empty tuple")
        for uri in self.redirect_uris:
            _check_redirect_uri(uri)


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _Grant:
    """What an authorization code stands for."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str
    sub: str
    email: str
    scope: tuple[str, ...]
    auth_time: int
    expires_at: float


@dataclass(frozen=True)
class _AccessToken:
    client_id: str
    sub: str
    email: str
    scope: tuple[str, ...]
    expires_at: float


@dataclass(frozen=True)
class _Redeemed:
    access_token: str
    expires_at: float


class _Store:
    """Codes and access tokens, in memory, behind a lock (safe from threads and tasks)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, _Grant] = {}
        self._tokens: dict[str, _AccessToken] = {}
        self._redeemed: dict[str, _Redeemed] = {}

    def add_code(self, grant: _Grant) -> str:
        code = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            for old in [c for c, g in self._codes.items() if g.expires_at <= now]:
                del self._codes[old]
            self._codes[code] = grant
        return code

    def take_code(self, code: str) -> tuple[_Grant | None, bool]:
        """Remove and return the code's grant; the flag tells a replay of a redeemed code
        (whose access token is revoked on the spot)."""
        with self._lock:
            grant = self._codes.pop(code, None)
            if grant is not None:
                return grant, False
            redeemed = self._redeemed.pop(code, None)
            if redeemed is None:
                return None, False
            self._tokens.pop(redeemed.access_token, None)
            return None, True

    def add_access_token(self, code: str, record: _AccessToken) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = self._clock()
            for old in [t for t, r in self._tokens.items() if r.expires_at <= now]:
                del self._tokens[old]
            for old in [c for c, r in self._redeemed.items() if r.expires_at <= now]:
                del self._redeemed[old]
            self._tokens[token] = record
            self._redeemed[code] = _Redeemed(token, record.expires_at)
        return token

    def access_token(self, token: str) -> _AccessToken | None:
        with self._lock:
            record = self._tokens.get(token)
            if record is not None and record.expires_at <= self._clock():
                del self._tokens[token]
                return None
            return record


# --------------------------------------------------------------------------- requests


class _Fatal(Exception):
    """An authorization request error that must not redirect (unknown client or URI)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class _Redirect(Exception):
    """An authorization request error returned to the (validated) redirect URI."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        self.state = state


class _TokenError(Exception):
    """A token endpoint error (RFC 6749 §5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class _BadForm(Exception):
    """A POST body that is not an acceptable form."""


_Params = dict[str, list[str]]


def _collect(items: Iterable[tuple[str, str]]) -> _Params:
    params: _Params = {}
    for name, value in items:
        params.setdefault(name, []).append(value)
    return params


def _first(params: _Params, name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


async def _read_form(request: Request) -> _Params:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM_TYPE:
        raise _BadForm(f"the body must be {_FORM_TYPE}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise _BadForm("the body is too large")
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except ValueError:  # also UnicodeDecodeError, and too many fields
        raise _BadForm("the body is not a valid form") from None
    return _collect(pairs)


@dataclass(frozen=True)
class _AuthorizationRequest:
    """A validated authorization request."""

    client: DevClient
    redirect_uri: str
    state: str
    nonce: str
    code_challenge: str
    requested_scope: str
    scope: tuple[str, ...]
    login_hint: str

    def hidden_fields(self) -> list[tuple[str, str]]:
        return [
            ("client_id", self.client.client_id),
            ("redirect_uri", self.redirect_uri),
            ("response_type", "code"),
            ("scope", self.requested_scope),
            ("state", self.state),
            ("nonce", self.nonce),
            ("code_challenge", self.code_challenge),
            ("code_challenge_method", "S256"),
        ]


def _validate_authorization_request(
    params: _Params, clients: Mapping[str, DevClient]
) -> _AuthorizationRequest:
    """Check an authorization request (query of GET, form of POST) in the order that
    decides where errors go: client and redirect URI first (never redirect before)."""
    client_ids = params.get("client_id", [])
    if len(client_ids) != 1:
        raise _Fatal("client_id is missing or repeated")
    client = clients.get(client_ids[0])
    if client is None:
        raise _Fatal("unknown client_id")
    redirect_uris = params.get("redirect_uri", [])
    if len(redirect_uris) != 1:
        raise _Fatal("redirect_uri is missing or repeated")
    redirect_uri = redirect_uris[0]
    if redirect_uri not in client.redirect_uris:
        raise _Fatal("redirect_uri is not registered for this client")

    states = params.get("state", [])
    state = states[0] if len(states) == 1 else None

    def fail(error: str, description: str) -> _Redirect:
        return _Redirect(error, description, redirect_uri, state)

    if any(len(values) > 1 for values in params.values()):
        raise fail("invalid_request", "request parameters must not be repeated")
    if "request" in params:
        raise fail("request_not_supported", "request objects are not supported")
    if "request_uri" in params:
        raise fail("request_uri_not_supported", "request_uri is not supported")

    def one(name: str) -> str | None:
        return _first(params, name)

    response_type = one("response_type")
    if not response_type:
        raise fail("invalid_request", "response_type is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "only response_type=code is supported")
    response_mode = one("response_mode")
    if response_mode is not None and response_mode != "query":
        raise fail("invalid_request", "only response_mode=query is supported")
    if not state:
        raise fail("invalid_request", "state is required")
    if len(state) > MAX_PARAM_LENGTH:
        raise fail("invalid_request", f"state is longer than {MAX_PARAM_LENGTH} characters")
    requested_scope = one("scope") or ""
    requested = [s for s in requested_scope.split(" ") if s]
    if "openid" not in requested:
        raise fail("invalid_scope", "scope must include openid")
    nonce = one("nonce")
    if not nonce:
        raise fail("invalid_request", "nonce is required")
    if len(nonce) > MAX_PARAM_LENGTH:
        raise fail("invalid_request", f"nonce is longer than {MAX_PARAM_LENGTH} characters")
    code_challenge = one("code_challenge")
    if not code_challenge:
        raise fail("invalid_request", "code_challenge is required (PKCE, RFC 7636)")
    if one("code_challenge_method") != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    if not _CODE_CHALLENGE_RE.fullmatch(code_challenge):
        raise fail("invalid_request", "code_challenge is not a base64url SHA-256 digest")
    prompt = (one("prompt") or "").split(" ")
    if "none" in prompt:
        if len([p for p in prompt if p]) > 1:
            raise fail("invalid_request", "prompt=none cannot be combined with other values")
        raise fail("login_required", "this provider always asks the user to log in")
    max_age = one("max_age")
    if max_age is not None and not (max_age.isascii() and max_age.isdigit()):
        raise fail("invalid_request", "max_age must be a non-negative integer")
    login_hint = one("login_hint") or ""
    return _AuthorizationRequest(
        client=client,
        redirect_uri=redirect_uri,
        state=state,
        nonce=nonce,
        code_challenge=code_challenge,
        requested_scope=requested_scope,
        scope=tuple(s for s in SUPPORTED_SCOPES if s in requested),
        login_hint=login_hint[:MAX_EMAIL_LENGTH],
    )


def _with_query(uri: str, params: list[tuple[str, str]]) -> str:
    """``uri`` with ``params`` added to its query (an existing query is kept, RFC 6749 §3.1.2)."""
    parts = urlsplit(uri)
    extra = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def normalize_email(value: str) -> str | None:
    """The address with surrounding blanks removed, or None when it is not plausibly one."""
    email = value.strip()
    if len(email) > MAX_EMAIL_LENGTH:
        return None
    match = _EMAIL_RE.fullmatch(email)
    if match is None or len(match.group("local")) > 64:
        return None
    return email


def subject_for(email: str) -> str:
    """The stable ``sub`` of an email address: ``dev-`` and 24 hex digits of SHA-256."""
    return SUB_PREFIX + hashlib.sha256(email.lower().encode("utf-8")).hexdigest()[:24]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _origin_source(uri: str) -> str | None:
    """A CSP source expression for the origin of ``uri`` (None if it cannot be one)."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        return origin if _ORIGIN_RE.fullmatch(origin) else None
    scheme = parts.scheme.lower()
    return f"{scheme}:" if re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) else None


def _check_issuer(issuer: str) -> None:
    parts = urlsplit(issuer)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "?" in issuer
        or "#" in issuer
        or parts.username is not None
    ):
        raise ValueError("issuer must be an http(s) URL without query, fragment or user info")


# --------------------------------------------------------------------------- pages


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _html_headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, **_NO_STORE}


# --------------------------------------------------------------------------- app


def create_dev_oidc_provider(
    *,
    issuer: str,
    clients: Mapping[str, DevClient],
    signing_key: DevSigningKey,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The provider as an ASGI app, serving at the root of ``issuer``.

    ``issuer`` is returned exactly as given (and is the ``iss`` of ID tokens);
    endpoint URLs are built from it, so it must be the URL the app is reached at.
    ``clients`` maps each client_id to its registration; ``clock`` (seconds since
    the epoch) decides every expiry and timestamp.
    """
    _check_issuer(issuer)
    if not clients:
        raise ValueError("at least one client must be registered")
    for client_id, client in clients.items():
        if client_id != client.client_id:
            raise ValueError(f"client registered as {client_id!r} has id {client.client_id!r}")
    registered: dict[str, DevClient] = dict(clients)
    store = _Store(clock)
    base = issuer.rstrip("/")
    authorization_endpoint = f"{base}/authorize"
    token_endpoint = f"{base}/token"
    userinfo_endpoint = f"{base}/userinfo"
    jwks_uri = f"{base}/jwks"
    issuer_origin = _origin_source(issuer)
    discovery: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": authorization_endpoint,
        "token_endpoint": token_endpoint,
        "userinfo_endpoint": userinfo_endpoint,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": [SIGNING_ALG],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": list(SUPPORTED_SCOPES),
        "subject_types_supported": ["public"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "azp",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "at_hash",
            "email",
            "email_verified",
        ],
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "claims_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
    }
    jwks = {"keys": [signing_key.public_jwk()]}

    app = FastAPI(
        title="MicroBuilder development OpenID provider",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in _COMMON_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", _DEFAULT_CSP)
        return response

    def fatal(request: Request, description: str) -> Response:
        """A 400 shown to the user: the redirect URI cannot be trusted."""
        if "text/html" in request.headers.get("accept", ""):
            body = (
                "<h1>Sign-in request refused</h1>\n"
                f'<p class="error">{html.escape(description)}</p>\n'
                '<p class="note">The application that sent you here is misconfigured '
                "for MicroBuilder's development identity provider.</p>\n"
            )
            csp = f"default-src 'none'; style-src {_STYLE_SRC}; frame-ancestors 'none'; "
            csp += "base-uri 'none'; form-action 'none'"
            return HTMLResponse(_page("Sign-in refused", body), 400, _html_headers(csp))
        return JSONResponse(
            {"error": "invalid_request", "error_description": description}, 400, _NO_STORE
        )

    def redirect_error(error: _Redirect, status: int) -> Response:
        params = [("error", error.error), ("error_description", error.description)]
        if error.state is not None:
            params.append(("state", error.state))
        params.append(("iss", issuer))
        return RedirectResponse(_with_query(error.redirect_uri, params), status, _NO_STORE)

    def login_page(
        auth: _AuthorizationRequest, *, email: str, error: str | None, status: int
    ) -> Response:
        esc = html.escape
        hidden = "".join(
            f'<input type="hidden" name="{esc(name)}" value="{esc(value)}">\n'
            for name, value in auth.hidden_fields()
        )
        message = f'<p class="error" role="alert">{esc(error)}</p>\n' if error else ""
        body = (
            "<h1>Sign in</h1>\n"
            f"<p>Signing in to <strong>{esc(auth.client.client_id)}</strong>, which will "
            f"receive you at <code>{esc(auth.redirect_uri)}</code>.</p>\n"
            '<p class="note">This is MicroBuilder\'s local development identity provider: '
            "any email address signs in, without a password, and is reported as "
            "unverified.</p>\n"
            f"{message}"
            f'<form method="post" action="{esc(authorization_endpoint)}">\n{hidden}'
            '<label for="email">Email address</label>\n'
            f'<input id="email" name="email" type="email" required '
            f'maxlength="{MAX_EMAIL_LENGTH}" autocomplete="email" autofocus '
            f'value="{esc(email)}">\n'
            '<button type="submit">Sign in</button>\n</form>\n'
        )
        # form-action covers the POST and the redirect that follows it (browsers check both)
        targets = sorted(
            {t for t in (issuer_origin, _origin_source(auth.redirect_uri)) if t is not None}
        )
        csp = (
            f"default-src 'none'; style-src {_STYLE_SRC}; "
            f"form-action {' '.join(targets) or _SELF}; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return HTMLResponse(_page("Sign in (development)", body), status, _html_headers(csp))

    @app.get("/.well-known/openid-configuration")
    async def openid_configuration() -> JSONResponse:
        return JSONResponse(discovery)

    @app.get("/jwks")
    async def jwks_route() -> JSONResponse:
        return JSONResponse(jwks)

    @app.get("/authorize")
    async def authorize_get(request: Request) -> Response:
        params = _collect(request.query_params.multi_items())
        try:
            auth = _validate_authorization_request(params, registered)
        except _Fatal as error:
            return fatal(request, error.description)
        except _Redirect as error:
            return redirect_error(error, 302)
        return login_page(auth, email=auth.login_hint, error=None, status=200)

    @app.post("/authorize")
    async def authorize_post(request: Request) -> Response:
        try:
            form = await _read_form(request)
            auth = _validate_authorization_request(form, registered)
        except _BadForm as error:
            return fatal(request, str(error))
        except _Fatal as error:
            return fatal(request, error.description)
        except _Redirect as error:
            return redirect_error(error, 303)
        entered = (form.get("email") or [""])[0]
        email = normalize_email(entered)
        if email is None:
            return login_page(
                auth,
                email=entered[:MAX_EMAIL_LENGTH],
                error=f"Enter a valid email address (at most {MAX_EMAIL_LENGTH} characters).",
                status=400,
            )
        now = clock()
        code = store.add_code(
            _Grant(
                client_id=auth.client.client_id,
                redirect_uri=auth.redirect_uri,
                code_challenge=auth.code_challenge,
                nonce=auth.nonce,
                sub=subject_for(email),
                email=email,
                scope=auth.scope,
                auth_time=int(now),
                expires_at=now + CODE_TTL_S,
            )
        )
        location = _with_query(
            auth.redirect_uri, [("code", code), ("state", auth.state), ("iss", issuer)]
        )
        return RedirectResponse(location, 303, _NO_STORE)

    def authenticate_client(request: Request, form: _Params) -> DevClient:
        body_id = _first(form, "client_id")
        body_secret = _first(form, "client_secret")
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, credentials = header.strip().partition(" ")
            if scheme.lower() != "basic":
                raise _TokenError("invalid_client", "use HTTP Basic or the form", 401)
            if body_secret is not None:
                raise _TokenError("invalid_request", "use only one client authentication method")
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise _TokenError("invalid_client", "malformed Basic credentials", 401) from None
            raw_id, colon, raw_secret = decoded.partition(":")
            if not colon:
                raise _TokenError("invalid_client", "malformed Basic credentials", 401)
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            if body_id is not None and body_id != client_id:
                raise _TokenError("invalid_request", "client_id does not match the credentials")
        elif body_id is not None and body_secret is not None:
            client_id, secret = body_id, body_secret
        else:
            raise _TokenError("invalid_client", "client authentication is required", 401)
        client = registered.get(client_id)
        # an unknown client costs the same comparison as a known one
        expected = client.client_secret if client is not None else secrets.token_urlsafe(32)
        matches = hmac.compare_digest(secret.encode("utf-8"), expected.encode("utf-8"))
        if client is None or not matches:
            raise _TokenError("invalid_client", "client authentication failed", 401)
        return client

    def redeem(client: DevClient, form: _Params) -> dict[str, Any]:
        def one(name: str) -> str | None:
            return _first(form, name)

        grant_type = one("grant_type")
        if not grant_type:
            raise _TokenError("invalid_request", "grant_type is required")
        if grant_type != "authorization_code":
            raise _TokenError("unsupported_grant_type", "only authorization_code is supported")
        code = one("code")
        if not code:
            raise _TokenError("invalid_request", "code is required")
        grant, replayed = store.take_code(code)  # single use from here on, even if we fail
        if grant is None:
            if replayed:
                raise _TokenError(
                    "invalid_grant", "code was already used; its access token is revoked"
                )
            raise _TokenError("invalid_grant", "code is invalid, expired or already used")
        now = clock()
        if now >= grant.expires_at:
            raise _TokenError("invalid_grant", "code has expired")
        if grant.client_id != client.client_id:
            raise _TokenError("invalid_grant", "code was issued to another client")
        redirect_uri = one("redirect_uri")
        if redirect_uri is None:
            raise _TokenError("invalid_request", "redirect_uri is required")
        if redirect_uri != grant.redirect_uri:
            raise _TokenError("invalid_grant", "redirect_uri does not match the authorization")
        verifier = one("code_verifier")
        if verifier is None:
            raise _TokenError("invalid_request", "code_verifier is required")
        challenge = _b64url(hashlib.sha256(verifier.encode("utf-8")).digest())
        if not _CODE_VERIFIER_RE.fullmatch(verifier) or not hmac.compare_digest(
            challenge.encode("ascii"), grant.code_challenge.encode("ascii")
        ):
            raise _TokenError("invalid_grant", "code_verifier does not match code_challenge")

        access_token = store.add_access_token(
            code,
            _AccessToken(
                client_id=client.client_id,
                sub=grant.sub,
                email=grant.email,
                scope=grant.scope,
                expires_at=now + TOKEN_TTL_S,
            ),
        )
        iat = int(now)
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": grant.sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": iat + TOKEN_TTL_S,
            "iat": iat,
            "auth_time": grant.auth_time,
            "nonce": grant.nonce,
            "at_hash": _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16]),
        }
        if "email" in grant.scope:
            claims |= {"email": grant.email, "email_verified": False}
        id_token = jwt.encode(
            {"alg": SIGNING_ALG, "kid": signing_key.kid, "typ": "JWT"},
            claims,
            signing_key.key,
            algorithms=[SIGNING_ALG],
        )
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_S,
            "id_token": id_token,
            "scope": " ".join(grant.scope),
        }

    @app.post("/token")
    async def token_route(request: Request) -> Response:
        try:
            try:
                form = await _read_form(request)
            except _BadForm as bad:
                raise _TokenError("invalid_request", str(bad)) from None
            if any(len(values) > 1 for values in form.values()):
                raise _TokenError("invalid_request", "request parameters must not be repeated")
            client = authenticate_client(request, form)
            body = redeem(client, form)
        except _TokenError as error:
            headers = dict(_NO_STORE)
            if error.status == 401:
                headers["WWW-Authenticate"] = f"Basic {_REALM}"
            return JSONResponse(
                {"error": error.error, "error_description": error.description},
                error.status,
                headers,
            )
        return JSONResponse(body, 200, _NO_STORE)

    @app.api_route("/userinfo", methods=["GET", "POST"])
    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization")
        if header is None:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "a Bearer token is required"},
                401,
                {"WWW-Authenticate": f"Bearer {_REALM}", **_NO_STORE},
            )
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        record = (
            store.access_token(token)
            if scheme.lower() == "bearer" and _B64TOKEN_RE.fullmatch(token)
            else None
        )
        if record is None:
            challenge = f'Bearer {_REALM}, error="invalid_token"'
            return JSONResponse(
                {"error": "invalid_token", "error_description": "the access token is invalid"},
                401,
                {"WWW-Authenticate": challenge, **_NO_STORE},
            )
        claims: dict[str, Any] = {"sub": record.sub}
        if "email" in record.scope:
            claims |= {"email": record.email, "email_verified": False}
        return JSONResponse(claims, 200, _NO_STORE)

    return app
