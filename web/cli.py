"""The `kefu` command: set up, deploy, serve and audit from a shell.

It lives beside the web layer because `serve` starts the web app; everything it does goes
through the engine's public API.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import engine
from engine import Kefu, Settings, settings_from_env
from engine.people.organisation import DEMO_FILE


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


#: The report's language, as `kefu deploy` and `kefu init` take it.
_LANG = click.option("--lang", type=click.Choice(engine.text.LANGUAGES), envvar="KEFU_LANG",
                     default="zh", show_default=True,
                     help="The language of the report (报告语言): zh 中文 or en English.")


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo centre (people, roster, processes).")
@click.option("--organisation", type=click.Path(exists=True, path_type=Path), default=None)
@_LANG
@click.pass_context
def init(ctx: click.Context, demo: bool, organisation: Path | None, lang: str) -> None:
    """Create or upgrade the database; with --demo, load the demo centre and deploy."""
    say = _SAY[lang]
    kefu = _kefu(ctx)
    kefu.db.create_schema()
    click.echo(say["database"].format(url=kefu.settings.database_url))
    _keys(kefu, say)
    org_file = organisation or (DEMO_FILE if demo else None)
    if org_file:
        with kefu.session() as session:
            count = engine.load_organisation(session, org_file)
        click.echo(say["organisation"].format(n=count, file=org_file.name))
    if demo:
        with kefu.session() as session:
            shifts = engine.load_demo_roster(session, kefu.settings, kefu.clock.now())
        click.echo(say["roster"].format(n=shifts))
        _deploy(kefu, "kefu-init", lang=lang)
    _echo_coverage(kefu, lang)


def _keys(kefu: Kefu, say: dict[str, str]) -> None:
    """Make the installation's secrets (engine.instance) and seal unkeyed old histories."""
    from engine import instance

    folder = instance.instance_dir(kefu.settings)
    if not kefu.settings.secret_key:
        instance.session_secret(kefu.settings)
    where = "KEFU_HISTORY_KEY" if kefu.settings.history_key else folder / instance.HISTORY_KEY
    click.echo(say["key"].format(where=where))
    with kefu.session() as session:
        sealed, refused = engine.records.checkpoints.seal_unkeyed(session, kefu.history_key)
    if sealed or refused:
        click.echo(say["sealed"].format(n=sealed, broken=", ".join(refused) or "-"))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--as", "actor", default="process_owner", help="Who deploys (recorded).")
@click.option("--check", "check_only", is_flag=True,
              help="Only check (仅检查): report what would change, deploy nothing.")
@_LANG
@click.pass_context
def deploy(ctx: click.Context, paths: tuple[Path, ...], actor: str, check_only: bool,
           lang: str) -> None:
    """Validate and deploy PATH... (files or folders; default processes/ and forms/),
    all or nothing. The check walks every path of each process in memory first and
    refuses what would fail a live case (docs/process-guide.md#testing)."""
    _deploy(_kefu(ctx), actor, paths, check_only, lang)


_SAY = {
    "zh": {"passed": "检查通过（仅检查，未部署）：{id} {what}", "becomes": "将成为第 {v} 版",
           "unchanged": "未改变", "warning": "  警告：{id}：{text}",
           "refused": "部署被拒绝，什么都没有部署：", "deployed": "已部署",
           "same": "未改变", "database": "数据库已就绪：{url}",
           "key": "历史记录密钥：{where}（请在服务器以外另存一份，见 docs/security.md）",
           "sealed": "已用密钥封存历史：{n} 个案件；链条已损坏、未封存：{broken}",
           "organisation": "已载入组织：{file} 中的 {n} 人",
           "roster": "已载入排班：新增 {n} 个班次（本月和下月）", "warning_prefix": "警告 "},
    "en": {"passed": "check passed (nothing deployed): {id} {what}",
           "becomes": "would become v{v}", "unchanged": "unchanged",
           "warning": "  warning: {id}: {text}",
           "refused": "deployment refused, nothing was deployed:", "deployed": "deployed",
           "same": "unchanged", "database": "database ready: {url}",
           "key": "history key: {where} (keep a copy away from the server, docs/security.md)",
           "sealed": "history sealed with the key: {n} case(s); left unsealed because their "
                     "chain is already broken: {broken}",
           "organisation": "organisation loaded: {n} people from {file}",
           "roster": "roster loaded: {n} new shifts (this month and next)",
           "warning_prefix": "WARNING "},
}


def _deploy(kefu: Kefu, actor: str, paths: tuple[Path, ...] = (),
            check_only: bool = False, lang: str = "zh") -> None:
    say = _SAY[lang]
    try:
        files = engine.read_paths(paths) if paths else \
            engine.read_files(kefu.settings.processes_dir, kefu.settings.forms_dir)
        with kefu.session(read_only=True) as session:  # the departments and people it names
            organisation = engine.people.organisation.directory(session)
        built = engine.build(*files, settings=kefu.settings, organisation=organisation)
        if not built:
            raise engine.DeploymentError([engine.Problem(
                file=", ".join(map(str, paths)) or str(kefu.settings.processes_dir),
                reason="没有可部署的流程 / holds no process to deploy")])
        with kefu.session() as session:
            if check_only:
                lines = [say["passed"].format(id=b.process_id, what=say["becomes"].format(v=v)
                                              if v else say["unchanged"])
                         for b, v in engine.check(session, built)]
                lines += [say["warning"].format(id=b.process_id, text=engine.text.in_language(
                              str(w), lang) if isinstance(w, str) else w.text(lang))
                          for b in built
                          for w in [*engine.label_warnings(b.spec_json), *b.warnings]]
            else:
                results = engine.deploy(session, built, actor, kefu.clock.now())
                lines = [f"{say['deployed'] if created else say['same']}: {v.process_id} "
                         f"v{v.version} ({v.content_hash[:12]})" for v, created in results]
    except engine.DeploymentError as exc:
        click.echo(say["refused"], err=True)
        for problem in exc.problems:
            click.echo(f"  {problem.text(lang)}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


@main.group()
def audit() -> None:
    """Auditors' checks."""


@audit.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False,
                                                                 path_type=Path),
              default=None, help="A checkpoint (kefu audit checkpoint) kept away from the "
                                 "server: also find deleted cases and a rolled-back database.")
@click.pass_context
def audit_verify(ctx: click.Context, checkpoint_file: Path | None) -> None:
    """Check every case's history chain; exit 1 if anything was edited or removed."""
    import json

    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        count, findings = engine.verify_all(session)
        if checkpoint_file is not None:
            try:
                doc = json.loads(checkpoint_file.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise click.BadParameter(f"{checkpoint_file}: not JSON: {exc}",
                                         param_hint="--checkpoint") from None
            findings += engine.records.checkpoints.verify_checkpoint(session, kefu.history_key, doc)
    for finding in findings:
        click.echo(f"TAMPERED {finding}")
    click.echo(f"checked {count} cases: {len(findings)} problem(s)")
    sys.exit(1 if findings else 0)


@audit.command("checkpoint")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write it; keep it away from the server (docs/security.md).")
@click.pass_context
def audit_checkpoint(ctx: click.Context, out: Path) -> None:
    """Write every case's history count and head, signed with the history key."""
    import json

    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        doc = engine.checkpoints.make_checkpoint(session, kefu.history_key, kefu.clock.now())
    out.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True),
                   encoding="utf-8")
    click.echo(f"checkpoint of {len(doc['cases'])} case(s) written to {out}")


@main.group()
def user() -> None:
    """People's sign-in: set a password, revoke access (both end their web sessions)."""


@user.command("password")
@click.argument("username")
@click.password_option(prompt="New password", help="Prompted for when not given.")
@click.pass_context
def user_password(ctx: click.Context, username: str, password: str) -> None:
    """Set USERNAME's password; every web session of theirs ends."""
    _user_change(ctx, engine.people.signin.set_password, username, password)


@user.command("revoke")
@click.argument("username")
@click.pass_context
def user_revoke(ctx: click.Context, username: str) -> None:
    """Deactivate USERNAME: no sign-in, every web session ends (tokens: kefu token revoke)."""
    _user_change(ctx, engine.people.signin.deactivate, username)


def _user_change(ctx: click.Context, change: Callable[..., int], username: str,
                 *args: str) -> None:
    kefu = _kefu(ctx.find_root())
    try:
        with kefu.session() as session:
            ended = change(session, username, *args, kefu.clock.now())
    except (engine.NotFound, ValueError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"{username}: done, {ended} web session(s) ended")


@main.command()
@click.option("--as", "actor", default="system")
@click.pass_context
def purge(ctx: click.Context, actor: str) -> None:
    """Remove closed cases whose retention period has ended, leaving a purge record."""
    from engine.records.retention import purge_expired

    kefu = _kefu(ctx)
    files = engine.messages.attachments.folder(kefu.settings)
    with kefu.session() as session:
        records = purge_expired(session, kefu.clock.now(), actor, attachments_dir=files)
        numbers = [r.case_number for r in records]
    with kefu.session() as session:
        swept = engine.messages.attachments.sweep_unreferenced(files, session, kefu.clock.now())
    click.echo(f"purged {len(numbers)} expired case(s): {', '.join(numbers) or '-'}")
    if swept:
        click.echo(f"removed {swept} uploaded file(s) that no case holds")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (behind a proxy).")
@click.option("--port", default=5000, type=int, show_default=True,
              help="Port to listen on; 0 picks a free one (printed at start).")
@click.option("--threads", default=8, type=int, show_default=True,
              help="Requests served at once.")
@click.option("--timers/--no-timers", default=True, show_default=True,
              help="Run a timer worker in this process; --no-timers where `kefu worker`s run.")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, threads: int, timers: bool) -> None:
    """Serve the web inbox with waitress, and fire deadlines in the same process."""
    import logging
    import signal

    from engine.scheduler.worker import TimerWorker
    from web import create_app
    from web.server.serving import serve as run_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    kefu = _kefu(ctx)
    app = create_app(kefu=kefu)
    worker = TimerWorker(kefu, name="serve") if timers else None
    if worker is not None:
        worker.start()
    # The app, the specs and the libraries live as long as the process: keeping them out of
    # the collector's generations makes full collections short (benchmarks: inbox p99 from
    # 43-63 ms to 15 ms, docs/benchmarks.md).
    gc.freeze()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    def ready(address: str) -> None:
        click.echo(f"Kefu is serving on {address} (waitress, {threads} threads; "
                   f"timers {'in this process' if worker else 'off'})", err=True)
    try:
        run_server(app, host, port, threads, ready)
    except KeyboardInterrupt:
        pass
    finally:
        if worker is not None:
            worker.stop()
        kefu.db.dispose()


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
    # The horizon moves every day: check at start and then daily while the worker runs.
    while True:
        coverage = _coverage(timers.kefu)
        if not coverage.ok:
            logging.getLogger("kefu.calendar").warning("%s", coverage.message)
        if stop.wait(24 * 3600):
            break
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


def _month(_ctx: click.Context, _param: click.Parameter, value: str) -> tuple[int, int]:
    """A `YYYY-MM` argument as (year, month), or a usage error naming it."""
    try:
        year, number = (int(part) for part in value.split("-"))
        if not 1 <= number <= 12:
            raise ValueError
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a month like 2026-11",
                                 param_hint="MONTH") from None
    return year, number


@report.command("monthly")
@click.argument("month", metavar="YYYY-MM", callback=_month)
@click.pass_context
def report_monthly(ctx: click.Context, month: tuple[int, int]) -> None:
    """C11: complaint hot spots by category and the resolution, on-time and satisfaction
    rates against their targets."""
    from engine.records.analysis import monthly_report

    year, number = month
    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        result = monthly_report(session, kefu.settings, year, number)
        labels = _category_labels(kefu, session)
    click.echo(f"投诉分析 / Complaint analysis {result.month}: {result.complaints} complaint(s)")
    click.echo("热点 / Hot spots: " + ("; ".join(f"{labels.get(c, c)} {n}"
                                                for c, n in result.hot_spots) or "-"))
    for label, rate in (("解决率 / Resolution", result.resolution),
                        ("及时率 / On time", result.on_time),
                        ("满意率 / Satisfaction", result.satisfaction)):
        shown = "-" if rate.value is None else f"{rate.value:.1%}"
        verdict = {True: "达标 / met", False: "未达标 / MISSED", None: "无数据 / no data"}[
            rate.met]
        click.echo(f"{label}: {shown} ({rate.part}/{rate.whole}), target "
                   f"{rate.target:.0%}: {verdict}")


def _coverage(kefu: Kefu) -> engine.timing.calendar_store.Coverage:
    with kefu.session() as session:
        return engine.calendar_coverage(session, kefu.settings, kefu.clock.now())


def _echo_coverage(kefu: Kefu, lang: str | None = None) -> None:
    """The calendar's coverage; in one language when the command has one (`--lang`)."""
    coverage = _coverage(kefu)
    message = engine.text.in_language(coverage.message, lang) if lang else coverage.message
    prefix = _SAY[lang or "en"]["warning_prefix"]
    click.echo(("" if coverage.ok else prefix) + message, err=not coverage.ok)


@main.group()
def calendar() -> None:
    """The official holiday schedule (放假安排) the centre keeps current."""


@calendar.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "actor", default="process_owner", help="Who loads it (recorded).")
@click.pass_context
def calendar_import(ctx: click.Context, file: Path, actor: str) -> None:
    """Load the State Council's schedule for one or more years (YAML or CSV); it replaces
    those years and wins over the packages. Nothing is saved if a line is bad."""
    from engine.timing.calendar_store import CalendarFileError, import_schedule

    kefu = _kefu(ctx.find_root())
    try:
        with kefu.session() as session:
            rows = import_schedule(session, file, actor, kefu.clock.now(), kefu.settings)
            loaded = [(r.year, r.source) for r in rows]
    except CalendarFileError as exc:
        click.echo(f"日历未导入 / calendar not imported: {file.name}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    for year, source in loaded:
        click.echo(f"imported {year}: {source} (by {actor})")
    _echo_coverage(kefu)


@calendar.command("show")
@click.option("--year", type=int, default=None, help="List this year's days off and 调休 days.")
@click.pass_context
def calendar_show(ctx: click.Context, year: int | None) -> None:
    """Which source answers for each year, who loaded an imported one, and the coverage."""
    from datetime import date, timedelta

    from engine.timing.calendar_store import calendar_for, imports

    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        cal = calendar_for(session, kefu.settings)
        loaded = {r.year: r for r in imports(session)}
        today = kefu.clock.now().astimezone(cal.tz).date()
        for y in range(today.year - 1, today.year + 3):
            row = loaded.get(y)
            source = cal.source_of(date(y, 6, 1)) or "none"
            by = f" ({row.source}; loaded by {row.loaded_by} at {row.loaded_at:%Y-%m-%d %H:%M})" \
                if row else ""
            click.echo(f"{y}: {source}{' (official)' if cal.covered(date(y, 6, 1)) else ''}{by}")
        if year is not None:
            day = date(year, 1, 1)
            while day.year == year:
                name = cal.holiday_name(day)
                if name or (day.weekday() >= 5 and cal.is_working_day(day)):
                    kind = "holiday" if name else "workday"
                    click.echo(f"  {day} {day:%a} {kind} {name or '调休上班'}")
                day += timedelta(days=1)
    _echo_coverage(kefu)


@main.group()
def roster() -> None:
    """A month's roster in and out (CSV, Excel)."""


@roster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def roster_import(ctx: click.Context, file: Path) -> None:
    """Load one month's roster (CSV or .xlsx: date,kind,username,duty[,min_staff,start,end]);
    one error per bad row, and nothing is saved if any row is bad."""
    from engine.people.roster_io import RosterFileError, import_roster

    kefu = _kefu(ctx.find_root())
    try:
        with kefu.session() as session:
            month, shifts, people = import_roster(session, file, kefu.settings)
    except RosterFileError as exc:
        click.echo(f"排班表未导入 / roster not imported: {file.name}", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(1)
    click.echo(f"roster {month} imported: {shifts} shifts, {people} assignments")


@roster.command("export")
@click.argument("month", metavar="YYYY-MM", callback=_month)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def roster_export(ctx: click.Context, month: tuple[int, int], output: Path | None) -> None:
    """Write a month's roster as CSV in the import's columns (stdout by default)."""
    from engine.people.roster_io import export_roster

    year, number = month
    kefu = _kefu(ctx.find_root())
    with kefu.session() as session:
        text = export_roster(session, f"{year:04d}-{number:02d}", kefu.settings)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"written {output}")


def _category_labels(kefu: Kefu, session: Any) -> dict[str, str]:
    """Category code -> its title in the complaint forms (`fee` -> `资费 / Fees`)."""
    from engine.definitions import catalog

    labels: dict[str, str] = {}
    for version in catalog.newest_versions(session):
        for schema in kefu.version(session, version.id).forms.values():
            prop = schema.get("properties", {}).get("category", {})
            for choice in prop.get("oneOf", []) if isinstance(prop, dict) else []:
                if isinstance(choice, dict) and "const" in choice:
                    labels.setdefault(str(choice["const"]), str(choice.get("title", "")))
    return labels
