"""The `kefu` command: set up, deploy, serve and audit from a shell.

It lives beside the web layer because `serve` starts the web app; everything it does goes
through the engine's public API.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

import engine
from engine import Kefu, Settings, settings_from_env
from engine.organisation import DEMO_FILE


def _kefu(ctx: click.Context) -> Kefu:
    settings: Settings = ctx.obj
    return Kefu(settings)


@click.group()
@click.option("--database-url", envvar="KEFU_DATABASE_URL", default=None,
              help="SQLAlchemy URL; SQLite file under instance/ by default.")
@click.pass_context
def main(ctx: click.Context, database_url: str | None) -> None:
    """客服工作流 Kefu: customer-service workflows on BPMN."""
    settings = settings_from_env()
    if database_url:
        settings = settings.with_overrides({"database_url": database_url})
    ctx.obj = settings


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo centre (people, roster, processes).")
@click.option("--organisation", type=click.Path(exists=True, path_type=Path), default=None)
@click.pass_context
def init(ctx: click.Context, demo: bool, organisation: Path | None) -> None:
    """Create or upgrade the database; with --demo, load the demo centre and deploy."""
    kefu = _kefu(ctx)
    kefu.db.create_schema()
    click.echo(f"database ready: {kefu.settings.database_url}")
    org_file = organisation or (DEMO_FILE if demo else None)
    if org_file:
        with kefu.session() as session:
            count = engine.load_organisation(session, org_file)
        click.echo(f"organisation loaded: {count} people from {org_file.name}")
    if demo:
        _deploy(kefu, "kefu-init")


@main.command()
@click.option("--as", "actor", default="process_owner", help="Who deploys (recorded).")
@click.pass_context
def deploy(ctx: click.Context, actor: str) -> None:
    """Validate and deploy processes/ and forms/ (all or nothing)."""
    _deploy(_kefu(ctx), actor)


def _deploy(kefu: Kefu, actor: str) -> None:
    try:
        with kefu.session() as session:
            results = engine.deploy_directories(session, kefu.settings.processes_dir,
                                                kefu.settings.forms_dir, actor, kefu.clock.now())
            lines = [f"{'deployed' if created else 'unchanged'}: {v.process_id} v{v.version} "
                     f"({v.content_hash[:12]})" for v, created in results]
    except engine.DeploymentError as exc:
        click.echo("deployment refused, nothing was deployed:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


@main.group()
def audit() -> None:
    """Auditors' checks."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check every case's history chain; exit 1 if anything was edited or removed."""
    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        count, findings = engine.verify_all(session)
    for finding in findings:
        click.echo(f"TAMPERED {finding}")
    click.echo(f"checked {count} cases: {len(findings)} problem(s)")
    sys.exit(1 if findings else 0)


@main.command()
@click.option("--as", "actor", default="system")
@click.pass_context
def purge(ctx: click.Context, actor: str) -> None:
    """Remove closed cases whose retention period has ended, leaving a purge record."""
    from engine.retention import purge_expired

    kefu = _kefu(ctx)
    with kefu.session() as session:
        records = purge_expired(session, kefu.clock.now(), actor)
        numbers = [r.case_number for r in records]
    click.echo(f"purged {len(numbers)} expired case(s): {', '.join(numbers) or '-'}")


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int) -> None:
    """Run the web inbox (and, once deadlines exist, a timer worker) in one process."""
    from web import create_app

    app = create_app(kefu=_kefu(ctx))
    app.run(host=host, port=port)
