"""Backups: the database, the encrypted store and the key material in one file, itself encrypted.

`shuyu backup --out FILE` writes every table's rows (portable between SQLite and PostgreSQL), the store's
files (already sealed for the sandbox) and the key files of the data dir into a tar archive held in memory,
then seals it with AES-256-GCM under a key derived from the master key: a backup is no plaintext on disk
either, and the master key itself is never in it (keep it apart, as in production). `shuyu restore FILE`
needs the same master key and an empty, migrated database; it puts rows, store files and missing keys back
in one transaction, refusing to overwrite a different key.

The audit chain's head can also be exported as a checkpoint signed with the receipts key
(`shuyu audit checkpoint`); keeping that file outside the database detects even a rewrite of the whole
table with consistent hashes (`shuyu audit verify --checkpoint FILE`).
"""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Date, DateTime, LargeBinary, Numeric, Table, delete, func, insert, select, text
from sqlmodel import Session, SQLModel

from core.config import Settings, get_settings
from core.errors import Conflict, InvalidInput

MAGIC = b"SHUYU-BACKUP-1\n"
SKIPPED_KEYS = ("master.key",)
FRESH_IF_EMPTY = ("users", "organizations", "audit_events")  # migrations seed other tables, never these


@dataclass(frozen=True)
class Summary:
    tables: int
    rows: int
    files: int


def _tables() -> list[Table]:
    import sandbox.models  # noqa: F401  (every table registers itself on import)

    return list(SQLModel.metadata.sorted_tables)


def _key(settings: Settings) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"shuyu backup v1").derive(
        settings.master_key_bytes())


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _typed(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    typed = dict(row)
    for column in table.columns:
        value = typed.get(column.name)
        if value is None:
            continue
        if isinstance(column.type, DateTime):
            typed[column.name] = datetime.fromisoformat(value)
        elif isinstance(column.type, Date):
            typed[column.name] = date.fromisoformat(value)
        elif isinstance(column.type, LargeBinary):
            typed[column.name] = base64.b64decode(value)
        elif isinstance(column.type, Numeric) and isinstance(value, str):
            typed[column.name] = Decimal(value)
    return typed


def _files(settings: Settings) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for root in (settings.store_dir, settings.keys_dir):
        if not root.exists():
            continue
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.name not in SKIPPED_KEYS:
                found[str(path.relative_to(settings.data_dir))] = path.read_bytes()
    return found


def dump(session: Session, out: Path) -> Summary:
    """Write the sealed backup file; returns what it holds."""
    settings = get_settings()
    tables = {t.name: [{k: _plain(v) for k, v in row._mapping.items()} for row in session.execute(select(t))]
              for t in _tables()}
    files = _files(settings)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        members = {"database.json": json.dumps(tables, ensure_ascii=False).encode()}
        members |= {f"files/{name}": data for name, data in files.items()}
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    nonce = os.urandom(12)
    sealed = AESGCM(_key(settings)).encrypt(nonce, archive.getvalue(), MAGIC)
    out.write_bytes(MAGIC + nonce + sealed)
    os.chmod(out, 0o600)
    return Summary(len(tables), sum(len(rows) for rows in tables.values()), len(files))


def _open(path: Path) -> tuple[dict[str, list[dict[str, Any]]], dict[str, bytes]]:
    blob = path.read_bytes()
    if not blob.startswith(MAGIC):
        raise InvalidInput(f"{path} is not a Shuyu backup", zh="该文件不是数域备份文件")
    try:
        plain = AESGCM(_key(get_settings())).decrypt(blob[len(MAGIC):len(MAGIC) + 12], blob[len(MAGIC) + 12:], MAGIC)
    except Exception:
        raise InvalidInput("The backup cannot be opened with this master key (SHUYU_MASTER_KEY)",
                           zh="无法用当前主密钥打开该备份") from None
    files: dict[str, bytes] = {}
    tables: dict[str, list[dict[str, Any]]] = {}
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            data = handle.read() if handle else b""
            if member.name == "database.json":
                tables = json.loads(data)
            elif member.name.startswith("files/"):
                files[member.name.removeprefix("files/")] = data
    return tables, files


def load(session: Session, path: Path) -> Summary:
    """Restore a backup into this (empty, migrated) database and data dir, in the caller's transaction."""
    tables, files = _open(path)
    settings = get_settings()
    known = {t.name: t for t in _tables()}
    for name in FRESH_IF_EMPTY:
        if session.execute(select(func.count()).select_from(known[name])).scalar_one():
            raise Conflict(f"The database is not empty (table {name} has rows): restore into a fresh one",
                           zh="数据库不为空：请恢复到新建的数据库")
    for table in reversed(list(known.values())):  # what migrations seeded comes back from the backup
        session.execute(delete(table))
    _write_files(settings, files)
    rows = 0
    for name, table in known.items():
        batch = [_typed(table, row) for row in tables.get(name, [])]
        if batch:
            session.execute(insert(table), batch)
            rows += len(batch)
    if session.get_bind().dialect.name == "postgresql":
        _reset_sequences(session, list(known.values()))
    return Summary(len(tables), rows, len(files))


def _write_files(settings: Settings, files: dict[str, bytes]) -> None:
    root = settings.data_dir.resolve()
    for name, data in files.items():
        target = (root / name).resolve()
        if root not in target.parents:
            raise InvalidInput(f"The backup names a file outside the data dir: {name}")
        if target.exists() and name.startswith("keys/"):
            if target.read_bytes() != data:
                raise Conflict(f"{name} exists with a different key; move it away to restore this backup's",
                               zh=f"{name} 已存在且与备份中的密钥不同")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if name.startswith("keys/"):
            os.chmod(target, 0o600)


def _reset_sequences(session: Session, tables: list[Table]) -> None:
    """Rows came back with their ids: move each serial id's sequence past them."""
    for table in tables:
        for column in table.primary_key.columns:
            if column.autoincrement is True or (column.autoincrement == "auto" and column.type.python_type is int):
                session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false) "
                    f"WHERE pg_get_serial_sequence('{table.name}', '{column.name}') IS NOT NULL"))
