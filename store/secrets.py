"""The secrets store: set, list, reveal, delete and inject, owner-checked and audited.

Every operation checks that the actor owns the app (another owner's secret is
"not found", and the attempt is audited as denied) and writes its audit row in
the same transaction as the access: if the row cannot be written, the
transaction rolls back and nothing is returned. Values are decrypted only
after the audit row has committed, and never appear in exceptions or logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import DictRow

from schemas.audit import Actor, AuditAction, AuditEvent, AuditOutcome
from schemas.secrets import SecretInfo, validate_secret_name, validate_secret_value
from store.audit import AuditLog
from store.db import Database
from store.envelope import Envelope, SecretRef
from store.sensitive_values import SENSITIVE

Conn = AsyncConnection[DictRow]
_OWNER = "SELECT owner_id FROM apps WHERE app_id = %s"
_OWNER_FOR_UPDATE = _OWNER + " FOR UPDATE"


class SecretNotFound(LookupError):
    """No such secret for this actor (it may exist under another owner: same answer)."""


@dataclass(frozen=True)
class _Sealed:
    ref: SecretRef
    master_key_id: str
    wrapped: bytes
    ciphertext: bytes


def _resource(app_id: str, name: str | None = None) -> str:
    return f"secret:{app_id}" + (f"/{name}" if name else "")


class SecretStore:
    """Secrets of apps, envelope-encrypted, every access audited (fail closed)."""

    def __init__(self, db: Database, envelope: Envelope, audit: AuditLog) -> None:
        self._db = db
        self._envelope = envelope
        self._audit = audit

    # --- owner checks ---------------------------------------------------------------------

    async def _refuse(
        self, actor: Actor, app_id: str, name: str | None, action: AuditAction, why: str
    ) -> SecretNotFound:
        """Audit a refused attempt (own transaction) and return the error to raise."""
        await self._audit.record(
            AuditEvent(
                actor=actor,
                action=action,
                resource=_resource(app_id, name),
                outcome=AuditOutcome.DENIED if why == "not owner" else AuditOutcome.FAILED,
                detail={"reason": why},
            )
        )
        what = f"secret {name} of app {app_id}" if name else f"app {app_id}"
        return SecretNotFound(f"no {what}")

    async def _app_state(self, conn: Conn, actor: Actor, app_id: str, *, lock: bool) -> str | None:
        """None when the actor owns the app, else why not (for the audit row)."""
        query = _OWNER_FOR_UPDATE if lock else _OWNER
        row = await (await conn.execute(query, (app_id,))).fetchone()
        if row is None:
            return "no such app"
        if row["owner_id"] != actor.user_id:
            return "not owner"
        return None

    async def _audit_ok(
        self, conn: Conn, actor: Actor, action: AuditAction, resource: str, detail: dict[str, Any]
    ) -> None:
        await self._audit.append(
            conn,
            AuditEvent(
                actor=actor,
                action=action,
                resource=resource,
                outcome=AuditOutcome.OK,
                detail=detail,
            ),
        )

    # --- data keys ------------------------------------------------------------------------

    async def _data_key(self, conn: Conn, owner_id: str) -> tuple[int, bytes]:
        """The owner's newest data key (created, wrapped by the current master key, if none)."""
        row = await self._newest_data_key(conn, owner_id)
        if row is None:
            self._envelope.reload()  # a rotation may have made another master key current
            kid, wrapped = self._envelope.wrap(owner_id, 1, self._envelope.new_data_key())
            await conn.execute(
                "INSERT INTO master_keys (id) VALUES (%s) ON CONFLICT DO NOTHING", (kid,)
            )
            await conn.execute(
                "INSERT INTO data_keys (owner_id, version, master_key_id, wrapped)"
                " VALUES (%s, 1, %s, %s) ON CONFLICT DO NOTHING",
                (owner_id, kid, wrapped),
            )
            row = await self._newest_data_key(conn, owner_id)
            assert row is not None  # inserted above, or by a concurrent first write
        version = int(row["version"])
        key = self._envelope.unwrap(
            owner_id, version, str(row["master_key_id"]), bytes(row["wrapped"])
        )
        return version, key

    @staticmethod
    async def _newest_data_key(conn: Conn, owner_id: str) -> DictRow | None:
        return await (
            await conn.execute(
                "SELECT version, master_key_id, wrapped FROM data_keys"
                " WHERE owner_id = %s ORDER BY version DESC LIMIT 1",
                (owner_id,),
            )
        ).fetchone()

    # --- operations -----------------------------------------------------------------------

    async def set(self, actor: Actor, app_id: str, name: str, value: str) -> SecretInfo:
        """Store a new version of ``name``; returns its info (never the value)."""
        validate_secret_name(name)
        plaintext = validate_secret_value(value).encode()
        SENSITIVE.add(value)
        async with self._db.transaction() as conn:
            why = await self._app_state(conn, actor, app_id, lock=True)
            if why is None:
                last = await (
                    await conn.execute(
                        "SELECT coalesce(max(version), 0) AS v FROM secrets"
                        " WHERE app_id = %s AND name = %s",
                        (app_id, name),
                    )
                ).fetchone()
                version = int(last["v"]) + 1 if last else 1
                dk_version, data_key = await self._data_key(conn, actor.user_id)
                ref = SecretRef(actor.user_id, app_id, name, version, dk_version)
                row = await (
                    await conn.execute(
                        "INSERT INTO secrets (owner_id, app_id, name, version, data_key_version,"
                        " ciphertext, size, created_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
                        " RETURNING created_at",
                        (
                            actor.user_id,
                            app_id,
                            name,
                            version,
                            dk_version,
                            Envelope.seal(data_key, ref, plaintext),
                            len(plaintext),
                            actor.user_id,
                        ),
                    )
                ).fetchone()
                assert row is not None
                await self._audit_ok(
                    conn,
                    actor,
                    AuditAction.SECRET_SET,
                    _resource(app_id, name),
                    {"version": version},
                )
                return SecretInfo(
                    name=name,
                    version=version,
                    size=len(plaintext),
                    updated_at=row["created_at"],
                    updated_by=actor.user_id,
                )
        raise await self._refuse(actor, app_id, name, AuditAction.SECRET_SET, why)

    async def names(self, actor: Actor, app_id: str) -> list[SecretInfo]:
        """Names and latest versions of the app's live secrets."""
        async with self._db.transaction() as conn:
            why = await self._app_state(conn, actor, app_id, lock=False)
            if why is None:
                rows = await (
                    await conn.execute(
                        "SELECT DISTINCT ON (name) name, version, size, created_at, created_by,"
                        " deleted_at FROM secrets WHERE app_id = %s ORDER BY name, version DESC",
                        (app_id,),
                    )
                ).fetchall()
                await self._audit_ok(conn, actor, AuditAction.SECRET_LIST, _resource(app_id), {})
                return [
                    SecretInfo(
                        name=str(r["name"]),
                        version=int(r["version"]),
                        size=int(r["size"]),
                        updated_at=r["created_at"],
                        updated_by=str(r["created_by"]),
                    )
                    for r in rows
                    if r["deleted_at"] is None
                ]
        raise await self._refuse(actor, app_id, None, AuditAction.SECRET_LIST, why)

    async def reveal(
        self, actor: Actor, app_id: str, name: str, version: int | None = None
    ) -> tuple[int, str]:
        """(version, value) of the latest (or given) live version: the owner's explicit read."""
        validate_secret_name(name)
        sealed: _Sealed | None = None
        async with self._db.transaction() as conn:
            why = await self._app_state(conn, actor, app_id, lock=False)
            if why is None:
                sealed = await self._sealed(conn, actor.user_id, app_id, name, version)
                if sealed is None:
                    why = "deleted or never set"
                else:
                    await self._audit_ok(
                        conn,
                        actor,
                        AuditAction.SECRET_REVEAL,
                        _resource(app_id, name),
                        {"version": sealed.ref.version},
                    )
        if sealed is None:
            raise await self._refuse(actor, app_id, name, AuditAction.SECRET_REVEAL, why or "")
        return sealed.ref.version, self._open(sealed)

    async def delete(self, actor: Actor, app_id: str, name: str) -> int:
        """Destroy every version's ciphertext; returns how many versions were live."""
        validate_secret_name(name)
        async with self._db.transaction() as conn:
            why = await self._app_state(conn, actor, app_id, lock=True)
            if why is None:
                cur = await conn.execute(
                    "UPDATE secrets SET ciphertext = NULL, deleted_at = now()"
                    " WHERE app_id = %s AND name = %s AND deleted_at IS NULL",
                    (app_id, name),
                )
                if cur.rowcount == 0:
                    why = "deleted or never set"
                else:
                    await self._audit_ok(
                        conn,
                        actor,
                        AuditAction.SECRET_DELETE,
                        _resource(app_id, name),
                        {"versions": cur.rowcount},
                    )
                    return cur.rowcount
        raise await self._refuse(actor, app_id, name, AuditAction.SECRET_DELETE, why)

    async def inject(self, actor: Actor, app_id: str, names: list[str]) -> dict[str, str]:
        """The latest value of each named secret, for the app's runtime (deploy time)."""
        values, _ = await self.inject_versions(actor, app_id, names)
        return values

    async def inject_versions(
        self,
        actor: Actor,
        app_id: str,
        names: list[str],
        pinned: dict[str, int] | None = None,
    ) -> tuple[dict[str, str], dict[str, int]]:
        """(values, versions) of the named secrets for the app's runtime: the latest
        ones, or the ``pinned`` versions (a rollback starting a release with the
        secrets it was deployed with).

        ``actor`` is the runtime starting the app (e.g. ``runtime:<host>``) on
        behalf of the app's owner, who is read from the app itself. A name that
        is not set, or a pinned version since deleted, fails the whole injection:
        an app must not start without a secret it declared, and a revoked value
        must not come back.
        """
        for name in names:
            validate_secret_name(name)
        pinned = pinned or {}
        sealed: list[_Sealed] = []
        why: str | None = None
        async with self._db.transaction() as conn:
            row = await (await conn.execute(_OWNER, (app_id,))).fetchone()
            if row is None:
                why = "no such app"
            else:
                owner = str(row["owner_id"])
                missing: list[str] = []
                for name in sorted(set(names)):
                    found = await self._sealed(conn, owner, app_id, name, pinned.get(name))
                    if found is None:
                        missing.append(f"{name} v{pinned[name]}" if name in pinned else name)
                    else:
                        sealed.append(found)
                if missing:
                    why = "not set: " + ", ".join(missing)
                else:
                    await self._audit_ok(
                        conn,
                        actor,
                        AuditAction.SECRET_INJECT,
                        _resource(app_id),
                        {"owner": owner, "secrets": {s.ref.name: s.ref.version for s in sealed}},
                    )
        if why is not None:
            raise await self._refuse(actor, app_id, None, AuditAction.SECRET_INJECT, why)
        return (
            {s.ref.name: self._open(s) for s in sealed},
            {s.ref.name: s.ref.version for s in sealed},
        )

    async def versions(self, app_id: str) -> dict[str, int]:
        """Latest live version of every secret of an app (no values, no audit: metadata)."""
        async with self._db.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT DISTINCT ON (name) name, version, deleted_at FROM secrets"
                    " WHERE app_id = %s ORDER BY name, version DESC",
                    (app_id,),
                )
            ).fetchall()
        return {str(r["name"]): int(r["version"]) for r in rows if r["deleted_at"] is None}

    # --- helpers --------------------------------------------------------------------------

    async def _sealed(
        self, conn: Conn, owner_id: str, app_id: str, name: str, version: int | None
    ) -> _Sealed | None:
        row = await (
            await conn.execute(
                "SELECT s.version, s.data_key_version, s.ciphertext, d.master_key_id, d.wrapped"
                " FROM secrets s JOIN data_keys d"
                "   ON d.owner_id = s.owner_id AND d.version = s.data_key_version"
                " WHERE s.app_id = %s AND s.name = %s AND s.owner_id = %s"
                "   AND s.deleted_at IS NULL AND (%s::int IS NULL OR s.version = %s::int)"
                " ORDER BY s.version DESC LIMIT 1",
                (app_id, name, owner_id, version, version),
            )
        ).fetchone()
        if row is None:
            return None
        ref = SecretRef(owner_id, app_id, name, int(row["version"]), int(row["data_key_version"]))
        return _Sealed(
            ref, str(row["master_key_id"]), bytes(row["wrapped"]), bytes(row["ciphertext"])
        )

    def _open(self, sealed: _Sealed) -> str:
        ref = sealed.ref
        data_key = self._envelope.unwrap(
            ref.owner_id, ref.data_key_version, sealed.master_key_id, sealed.wrapped
        )
        value = Envelope.open(data_key, ref, sealed.ciphertext).decode()
        SENSITIVE.add(value)  # redacted from any error report this process sends
        return value
