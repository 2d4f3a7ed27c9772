"""The `kefu` command: init, deploy, audit verify, purge (issue 2)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from web.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.chdir(ROOT)
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    run.url = url  # type: ignore[attr-defined]
    return run


def test_init_speaks_one_language_chinese_unless_english_is_asked_for(cli) -> None:
    """A process owner setting up reads every line of `kefu init` in one language."""
    chinese = cli("init", "--demo")
    for line in ("数据库已就绪", "历史记录密钥", "已载入组织", "已载入排班",
                 "已部署: complaint v1"):
        assert line in chinese
    for english in ("database ready", "history key", "loaded", "deployed", "holiday schedule"):
        assert english not in chinese
    again = cli("init", "--demo", "--lang", "en")
    assert "roster loaded: 0 new shifts" in again and "unchanged: complaint v1" in again
    assert "已载入" not in again and "节假日" not in again


def test_init_demo_creates_schema_people_and_processes_then_deploy_is_a_no_op(cli) -> None:
    out = cli("init", "--demo")
    assert "已载入组织" in out and "已部署: complaint v1" in out
    assert "unchanged: complaint v1" in cli("deploy", "--lang", "en")
    with create_engine(cli.url).connect() as conn:
        hashed = conn.execute(text("SELECT password_hash FROM person WHERE username='agent01'"))
        assert hashed.scalar().startswith("scrypt$")


def test_deploy_refusal_prints_file_line_and_element(cli, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cli("init")
    broken = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", broken)
    bpmn = broken / "complaint.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace(
        'name="dept_head"', 'name="boss"', 1), encoding="utf-8")
    monkeypatch.setenv("KEFU_PROCESSES_DIR", str(broken))
    result = CliRunner().invoke(main, ["deploy"])
    assert result.exit_code == 1
    assert "部署被拒绝，什么都没有部署" in result.output
    assert "complaint.bpmn:" in result.output
    assert "泳道 'boss' 既不是角色也不是部门" in result.output


def test_A1_audit_verify_reports_tampering_with_exit_code(cli) -> None:
    cli("init", "--demo")
    from engine import Kefu, Settings, find_actor, start_case
    from tests.complaints import INTAKE

    kefu = Kefu(Settings(database_url=cli.url))
    with kefu.session() as s:
        start_case(kefu, s, "complaint", find_actor(s, "agent01"), INTAKE)
    assert "checked 1 cases: 0 problem(s)" in cli("audit", "verify")
    with create_engine(cli.url).begin() as conn:
        conn.execute(text("UPDATE history_record SET data = '{}' WHERE seq = 2"))
    out = cli("audit", "verify", code=1)
    assert "TAMPERED" in out and "#2: record content was edited" in out


def test_purge_with_nothing_expired_removes_nothing(cli) -> None:
    cli("init")
    assert "purged 0 expired case(s)" in cli("purge")


def test_C11_monthly_report_command(cli) -> None:
    cli("init", "--demo")
    out = cli("report", "monthly", "2026-11")
    assert "Complaint analysis 2026-11: 0 complaint(s)" in out
    assert "target 99%: 无数据 / no data" in out
    assert "is not a month like 2026-11" in cli("report", "monthly", "2026-13", code=2)


def _start_one(url: str) -> None:
    from engine import Kefu, find_actor, settings_from_env, start_case
    from tests.complaints import INTAKE

    kefu = Kefu(settings_from_env().with_overrides({"database_url": url}))
    with kefu.session() as s:
        start_case(kefu, s, "complaint", find_actor(s, "agent01"), INTAKE)
    kefu.db.dispose()


def test_A1_init_keeps_a_private_history_key_next_to_the_database(cli, tmp_path: Path) -> None:
    out = cli("init", "--demo")
    key = tmp_path / "history_key"
    assert f"历史记录密钥：{key}" in out
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert not (ROOT / "instance" / "history_key").exists()
    _start_one(cli.url)
    assert "checked 1 cases: 0 problem(s)" in cli("audit", "verify")
    key.write_text("0" * 64)  # another key: every record shows it was signed with another
    assert "signed with another key" in cli("audit", "verify", code=1)


def test_A1_the_history_key_may_come_from_KEFU_HISTORY_KEY(cli, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setenv("KEFU_HISTORY_KEY", "kept-in-the-vault")
    assert "历史记录密钥：KEFU_HISTORY_KEY" in cli("init", "--demo")
    assert not (tmp_path / "history_key").exists()
    _start_one(cli.url)
    assert "0 problem(s)" in cli("audit", "verify")
    monkeypatch.setenv("KEFU_HISTORY_KEY", "a-guess")
    assert "signed with another key" in cli("audit", "verify", code=1)


def test_A3_audit_checkpoint_then_verify_finds_a_deleted_case(cli, tmp_path: Path) -> None:
    cli("init", "--demo")
    _start_one(cli.url)
    saved = tmp_path / "elsewhere" / "checkpoint.json"
    saved.parent.mkdir()
    assert "checkpoint of 1 case(s) written" in cli("audit", "checkpoint", "--out", str(saved))
    assert "0 problem(s)" in cli("audit", "verify", "--checkpoint", str(saved))
    with create_engine(cli.url).begin() as conn:
        for table in ("history_record", "task_item", "deadline", "case_escalation"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM case_record"))
    assert "checked 0 cases: 0 problem(s)" in cli("audit", "verify")
    out = cli("audit", "verify", "--checkpoint", str(saved), code=1)
    assert "case deleted since the checkpoint" in out and "rolled back" in out


def test_A1_init_seals_a_history_written_before_the_key(cli) -> None:
    cli("init", "--demo")
    _start_one(cli.url)
    with create_engine(cli.url).begin() as conn:  # as the unkeyed code left it
        conn.execute(text("UPDATE history_record SET key_id = NULL"))
    assert "not signed with the history key" in cli("audit", "verify", code=1)
    # the records' hashes are keyed, so as unkeyed records their chain does not hold: refused
    assert "链条已损坏、未封存：TS" in cli("init")


def test_user_password_ends_that_persons_web_sessions(cli) -> None:
    cli("init", "--demo")
    from engine import Kefu, Settings
    from engine.people import signin
    from engine.persistence.models import Person

    kefu = Kefu(Settings(database_url=cli.url))
    with kefu.session() as s:
        person = s.query(Person).filter_by(username="agent01").one()
        sid = signin.open_session(s, person, "127.0.0.1", kefu.clock.now())
    result = CliRunner().invoke(main, ["user", "password", "agent01"],
                                input="new-secret-1\nnew-secret-1\n")
    assert result.exit_code == 0 and "1 web session(s) ended" in result.output
    with kefu.session() as s:
        assert signin.live_session(s, kefu.settings, sid, kefu.clock.now()) is None
    assert "at least 8" in CliRunner().invoke(main, ["user", "password", "agent01"],
                                              input="short\nshort\n").output
    assert "0 web session(s) ended" in cli("user", "revoke", "agent01")
    kefu.db.dispose()


def test_C11_monthly_report_names_categories_by_their_labels(cli) -> None:
    """Issue 15: the report prints 资费, not the code `fee`."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import engine
    from engine import FixedClock, Kefu, settings_from_env
    from tests.complaints import INTAKE

    cli("init", "--demo")
    kefu = Kefu(settings_from_env(), clock=FixedClock(datetime(2026, 11, 23, 9, 0,
                                                               tzinfo=ZoneInfo("Asia/Shanghai"))))
    with kefu.session() as s:
        agent = engine.find_actor(s, "agent01")
        engine.start_case(kefu, s, "complaint", agent, INTAKE)
    out = cli("report", "monthly", "2026-11")
    assert "热点 / Hot spots: 资费" in out and " fee " not in out


def test_deploy_takes_files_and_folders_and_check_deploys_nothing(cli) -> None:
    cli("init")
    data = ROOT / "tests" / "data" / "modeler"
    out = cli("deploy", "--check", str(data / "plain_tasks.bpmn"), str(data / "event_gateway.bpmn"))
    assert "检查通过（仅检查，未部署）：plain_tasks 将成为第 1 版" in out
    assert "event_gateway 将成为第 1 版" in out
    with create_engine(cli.url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM process_version")).scalar() == 0
    assert "deployed: complaint v1" in cli("deploy", "--lang", "en", "processes", "forms")
    assert "complaint unchanged" in cli("deploy", "--check", "--lang", "en", "processes", "forms")


def test_deploy_of_a_folder_with_a_bad_file_names_it_with_the_fix(cli, tmp_path: Path) -> None:
    cli("init")
    shutil.copy(ROOT / "tests" / "data" / "modeler" / "timer_chinese.bpmn", tmp_path)
    result = CliRunner().invoke(main, ["deploy", str(tmp_path)])
    assert result.exit_code == 1
    assert "timer_chinese.bpmn:15 [wait]: 定时器的值 '两小时' 不是时长" in result.output
    assert "改法:" in result.output and "fix:" not in result.output


def test_deploy_of_a_folder_without_processes_is_refused_not_silent(cli, tmp_path: Path) -> None:
    cli("init")
    result = CliRunner().invoke(main, ["deploy", str(tmp_path)])
    assert result.exit_code == 1 and "没有可部署的流程" in result.output


def test_check_warns_about_a_timer_whose_label_says_another_time(cli, tmp_path: Path) -> None:
    cli("init")
    source = (ROOT / "tests" / "data" / "modeler" / "timer_unquoted.bpmn").read_text("utf-8")
    (tmp_path / "wait.bpmn").write_text(
        source.replace("两小时后 / After two hours", "1 小时后 / After 1 hour"), "utf-8")
    out = cli("deploy", "--check", str(tmp_path))
    assert '警告：timer_unquoted：定时器 wait「1 小时后 / After 1 hour」的值是 "PT2H"' in out


def test_check_refuses_a_condition_that_fails_with_the_forms_data_in_one_language(
        cli, tmp_path: Path) -> None:
    """The gateway reads `priority`, which no form asks for: every case would fail there,
    so the deploy check's dry run refuses it (issue 14), naming file, line and element, in
    the language asked for; nothing is deployed."""
    cli("init")
    data = ROOT / "tests" / "data" / "modeler"
    for name in ("dry_run_unknown_variable.bpmn", "approve.json"):
        shutil.copy(data / name, tmp_path)
    chinese = CliRunner().invoke(main, ["deploy", "--check", str(tmp_path)])
    assert chinese.exit_code == 1
    assert "部署被拒绝，什么都没有部署：" in chinese.output
    assert "dry_run_unknown_variable.bpmn:6 [urgent]: 网关「urgent」的条件出错" in chinese.output
    assert "name 'priority' is not defined" in chinese.output
    assert "改法: 只用表单字段" in chinese.output
    assert "说明: docs/process-guide.md#conditions" in chinese.output
    assert "a condition of gateway" not in chinese.output
    english = CliRunner().invoke(main, ["deploy", "--lang", "en", str(tmp_path)])
    assert english.exit_code == 1
    assert "deployment refused, nothing was deployed:" in english.output
    assert "[urgent]: a condition of gateway “urgent” fails" in english.output
    assert "fix: use only variables a form" in english.output
    assert "网关" not in english.output and "改法" not in english.output
    with create_engine(cli.url).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM process_version")).scalar() == 0


def test_deploy_report_language_comes_from_kefu_lang(cli, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    cli("init")
    monkeypatch.setenv("KEFU_LANG", "en")
    out = cli("deploy", "--check", str(ROOT / "tests" / "data" / "modeler" / "plain_tasks.bpmn"))
    assert "check passed (nothing deployed): plain_tasks would become v1" in out


def test_check_dry_run_is_silent_for_the_repositorys_processes(cli) -> None:
    cli("init")
    out = cli("deploy", "--check", "--lang", "en")
    assert "warning" not in out and "complaint would become v1" in out
