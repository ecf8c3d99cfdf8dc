"""The `shuyu` command: migrate, create staff, seed the demo, serve, verify the audit chain and ledger,
back up and restore."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from core.auth import Role
from core.config import ConfigError, get_settings

app = typer.Typer(help="Shuyu 数域: authorized operation of public data.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
ledger_app = typer.Typer(help="The treasury ledger.", no_args_is_help=True)
receipts_app = typer.Typer(help="Signed query receipts.", no_args_is_help=True)
keys_app = typer.Typer(help="The sandbox key pair: the private half for sandbox nodes only.", no_args_is_help=True)
for sub, name in ((db_app, "db"), (users_app, "users"), (audit_app, "audit"), (ledger_app, "ledger"),
                  (receipts_app, "receipts"), (keys_app, "keys")):
    app.add_typer(sub, name=name)


def fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    from migrations import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    if not settings.is_sqlite:
        from sandbox.node import ensure_queue_schema

        ensure_queue_schema(settings)  # procrastinate's job tables, for SHUYU_SANDBOX_MODE=queue
    typer.echo(f"database is at the latest schema: {_safe_url(settings.resolved_database_url)}")


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


@keys_app.command("generate")
def keys_generate(out: Annotated[Path, typer.Option(help="Directory for sandbox.key and sandbox.pub")]) -> None:
    """Make a sandbox key pair: sandbox.key goes to sandbox nodes only, sandbox.pub to API nodes."""
    from core.keys import generate

    try:
        private, public = generate(out)
    except FileExistsError as exc:
        fail(str(exc))
    typer.echo(f"wrote {private} (sandbox nodes only: SHUYU_SANDBOX_KEY_FILE) and {public} "
               "(API nodes: SHUYU_SANDBOX_PUBLIC_KEY_FILE)")


@keys_app.command("rotate")
def keys_rotate(new_public: Annotated[Path, typer.Option(help="sandbox.pub of the new pair")]) -> None:
    """Re-seal every dataset key for a new sandbox key; run on a sandbox node (it needs the old private key).

    The data is not re-encrypted. Afterwards give the new sandbox.key to the nodes, sandbox.pub to the API."""
    from core.db import unit_of_work
    from market.service.datasets import datasets
    from sandbox.worker import rotate_sealed_keys

    old = get_settings().private_key_path
    with unit_of_work() as session:
        count = datasets.reseal_all(session, lambda sealed: rotate_sealed_keys(old, new_public, sealed))
    typer.echo(f"re-sealed {count} dataset keys for {new_public}")


@app.command()
def worker() -> None:
    """Run a sandbox node: take query jobs, compute them with the private key, store the results."""
    import logging

    from sandbox.node import main

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    main()


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    password: Annotated[str, typer.Option(help="At least 12 characters, not a common one", prompt=True,
                                                 hide_input=True)],
    role: Annotated[Role, typer.Option(help="provider, data_office, finance or admin")],
    org_name: Annotated[str | None, typer.Option(help="The provider's department (providers only)")] = None,
) -> None:
    """Create a staff account."""
    from core.accounts import accounts
    from core.db import unit_of_work
    from core.errors import DomainError

    try:
        with unit_of_work() as session:
            user = accounts.create_staff(session, email, password, role, org_name)
            typer.echo(f"created {role.value} user {user.email} (id {user.id})")
    except DomainError as exc:
        fail(exc.detail)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, reload: bool = False) -> None:
    """Serve the web application and API."""
    import uvicorn

    try:
        from core.config import check_production

        check_production(get_settings())
    except ConfigError as exc:
        fail(str(exc))
    typer.echo(f"Shuyu is serving on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run("web.app:create_app", factory=True, host=host, port=port, reload=reload)


@app.command()
def demo() -> None:
    """Seed demo organizations, users, datasets, listings, licences and queries (idempotent)."""
    from web.demo import seed

    for line in seed():
        typer.echo(line)


@app.command()
def backup(out: Annotated[Path, typer.Option("--out", help="The backup file to write (sealed under the master key)")]
           ) -> None:
    """Back up the database, the encrypted store and the key material into one sealed file."""
    from core.db import unit_of_work
    from web.backup import dump

    with unit_of_work() as session:
        summary = dump(session, out)
    typer.echo(f"backup written to {out}: {summary.rows} rows in {summary.tables} tables, {summary.files} files "
               "(the master key is not in it: keep SHUYU_MASTER_KEY to restore)")


@app.command()
def restore(file: Annotated[Path, typer.Argument(help="A file written by `shuyu backup`")]) -> None:
    """Restore a backup into a fresh database (migrated first) and this data dir."""
    from core.db import unit_of_work
    from core.errors import DomainError
    from migrations import upgrade
    from web.backup import load

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    try:
        with unit_of_work() as session:
            summary = load(session, file)
    except DomainError as exc:
        fail(exc.detail)
    typer.echo(f"restored {summary.rows} rows in {summary.tables} tables and {summary.files} files; "
               "run `shuyu audit verify` and `shuyu ledger verify` to check them")


@audit_app.command("checkpoint")
def audit_checkpoint(out: Annotated[Path, typer.Option("--out", help="Where to write the signed checkpoint")]
                     ) -> None:
    """Export the audit chain's head, signed: kept outside the database, it detects a rewrite of the table."""
    from core import audit
    from core.db import unit_of_work

    with unit_of_work() as session:
        checkpoint = audit.checkpoint(session)
    out.write_text(json.dumps(checkpoint, indent=2))
    typer.echo(f"checkpoint written to {out}: {checkpoint['length']} events, head {checkpoint['head']}")


@audit_app.command("verify")
def audit_verify_checkpoint(
    checkpoint: Annotated[Path | None, typer.Option(help="A file from `shuyu audit checkpoint`")] = None,
) -> None:
    """Re-hash the audit chain and, given a checkpoint, check the chain still passes through its head."""
    from core import audit
    from core.db import unit_of_work

    with unit_of_work() as session:
        result = audit.verify(session)
        if not result.ok:
            fail(f"audit chain BROKEN at event {result.broken_at}: {result.reason}")
        if checkpoint is not None:
            problem = audit.check_checkpoint(session, json.loads(checkpoint.read_text()))
            if problem:
                fail(f"audit chain does not match the checkpoint: {problem}")
    typer.echo(f"audit chain ok: {result.length} events, head {result.head}"
               + (" (matches the checkpoint)" if checkpoint else ""))


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Re-check every ledger invariant over the whole book; exit 1 on any break."""
    from core.db import unit_of_work
    from licensing.ledger.service import ledger

    with unit_of_work() as session:
        problems = ledger.verify(session)
        balanced = ledger.trial_balance(session)["balanced"]
    if not balanced:
        problems.append("the trial balance does not balance")
    if problems:
        fail("ledger BROKEN:\n  " + "\n  ".join(problems))
    typer.echo("ledger ok: every entry balances")


@receipts_app.command("verify")
def receipts_verify(
    file: Annotated[Path, typer.Argument(help="A query result or receipt as JSON")],
    public_key: Annotated[Path | None, typer.Option(help="PEM file; default: this platform's key")] = None,
) -> None:
    """Verify a receipt's Ed25519 signature offline (and, given a full result, that it matches the values)."""
    from core.receipts import public_pem, sha256_hex, signing_key, verify

    document = json.loads(file.read_text())
    receipt = document.get("receipt", document)
    pem = public_key.read_text() if public_key else public_pem(signing_key(get_settings()))
    if not verify(pem, receipt):
        fail("receipt signature INVALID")
    if "rows" in document and sha256_hex({"columns": document["columns"], "rows": document["rows"]}) != receipt[
        "result_sha256"
    ]:
        fail("the signature is valid but the values do not match the receipt's result_sha256")
    typer.echo(f"receipt valid: query {receipt.get('query_id')} signed by {receipt['key_id']}")


if __name__ == "__main__":
    app()
