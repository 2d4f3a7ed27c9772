"""The `kefu` command: set up, deploy, serve and audit from a shell.

It lives beside the web layer because `serve` starts the web app; everything it does goes
through the engine's public API.
"""

from __future__ import annotations

import gc
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
        with kefu.session() as session:
            shifts = engine.load_demo_roster(session, kefu.settings, kefu.clock.now())
        click.echo(f"roster loaded: {shifts} new shifts (this month and next)")
        _deploy(kefu, "kefu-init")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--as", "actor", default="process_owner", help="Who deploys (recorded).")
@click.option("--check", "check_only", is_flag=True,
              help="Only check (仅检查): report what would change, deploy nothing.")
@click.pass_context
def deploy(ctx: click.Context, paths: tuple[Path, ...], actor: str, check_only: bool) -> None:
    """Validate and deploy PATH... (files or folders; default processes/ and forms/),
    all or nothing."""
    _deploy(_kefu(ctx), actor, paths, check_only)


def _deploy(kefu: Kefu, actor: str, paths: tuple[Path, ...] = (),
            check_only: bool = False) -> None:
    try:
        files = engine.read_paths(paths) if paths else \
            engine.read_files(kefu.settings.processes_dir, kefu.settings.forms_dir)
        built = engine.build(*files)
        if not built:
            raise engine.DeploymentError([engine.Problem(
                file=", ".join(map(str, paths)) or str(kefu.settings.processes_dir),
                reason="没有可部署的流程 / holds no process to deploy")])
        with kefu.session() as session:
            if check_only:
                lines = [f"check passed (仅检查，未部署): {b.process_id} "
                         + (f"would become v{v}" if v else "unchanged")
                         for b, v in engine.check(session, built)]
                lines += [f"  警告 / warning: {b.process_id}: {w}" for b in built
                          for w in [*engine.label_warnings(b.spec_json),
                                    *engine.dry_run(kefu.settings, b)]]
            else:
                results = engine.deploy(session, built, actor, kefu.clock.now())
                lines = [f"{'deployed' if created else 'unchanged'}: {v.process_id} "
                         f"v{v.version} ({v.content_hash[:12]})" for v, created in results]
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
    """Run the web inbox and one timer worker in one process (SQLite is enough)."""
    from engine.scheduler.worker import TimerWorker
    from web import create_app

    kefu = _kefu(ctx)
    app = create_app(kefu=kefu)
    worker = TimerWorker(kefu, name="serve")
    worker.start()
    # The app, the specs and the libraries live as long as the process: keeping them out of
    # the collector's generations makes full collections short (benchmarks: inbox p99 from
    # 43-63 ms to 15 ms, docs/benchmarks.md).
    gc.freeze()
    try:
        app.run(host=host, port=port)
    finally:
        worker.stop()


@main.command()
@click.option("--name", default=None, help="Worker name shown in the log (default: random).")
@click.pass_context
def worker(ctx: click.Context, name: str | None) -> None:
    """Run a timer worker alone: fires deadlines on time; several may share one PostgreSQL."""
    import logging
    import signal
    import threading

    from engine.scheduler.worker import TimerWorker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    timers = TimerWorker(_kefu(ctx), name=name)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    started = timers.start()
    click.echo(f"timer worker {timers.name} started "
               f"({started.fired} overdue deadline(s) caught up)", err=True)
    stop.wait()
    timers.stop()


@main.group()
def token() -> None:
    """API tokens for integrations (e.g. the hotline's telephony system)."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="api", help="What the token is for (recorded).")
@click.pass_context
def token_create(ctx: click.Context, username: str, name: str) -> None:
    """Create a token acting as USERNAME; it is printed once and stored only as a hash."""
    kefu = _kefu(ctx.find_root())
    try:
        with kefu.session() as session:
            secret = engine.create_token(session, username, kefu.clock.now(), name)
    except engine.NotFound as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        kefu.db.dispose()
    click.echo(secret)


@token.command("revoke")
@click.argument("username")
@click.pass_context
def token_revoke(ctx: click.Context, username: str) -> None:
    """Revoke every token of USERNAME."""
    kefu = _kefu(ctx.find_root())
    try:
        with kefu.session() as session:
            count = engine.revoke_tokens(session, username, kefu.clock.now())
    except engine.NotFound as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        kefu.db.dispose()
    click.echo(f"revoked {count} token(s) of {username}")


@main.group()
def report() -> None:
    """Reports on the centre's cases."""


@report.command("monthly")
@click.argument("month", metavar="YYYY-MM")
@click.pass_context
def report_monthly(ctx: click.Context, month: str) -> None:
    """C11: complaint hot spots by category and the resolution, on-time and satisfaction
    rates against their targets."""
    from engine.analysis import monthly_report

    try:
        year, number = (int(part) for part in month.split("-"))
        if not 1 <= number <= 12:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{month!r} is not a month like 2026-11",
                                 param_hint="MONTH") from None
    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        result = monthly_report(session, kefu.settings, year, number)
    click.echo(f"投诉分析 / Complaint analysis {result.month}: {result.complaints} complaint(s)")
    click.echo("热点 / Hot spots: " + (", ".join(f"{c} {n}" for c, n in result.hot_spots)
                                     or "-"))
    for label, rate in (("解决率 / Resolution", result.resolution),
                        ("及时率 / On time", result.on_time),
                        ("满意率 / Satisfaction", result.satisfaction)):
        shown = "-" if rate.value is None else f"{rate.value:.1%}"
        verdict = {True: "met", False: "MISSED", None: "no data"}[rate.met]
        click.echo(f"{label}: {shown} ({rate.part}/{rate.whole}), target "
                   f"{rate.target:.0%}: {verdict}")
