"""A complaint from intake to archive, done in a browser as the centre's staff would (issue 5):
an agent registers it and prints the receipt, the duty supervisor contacts and judges (one
mistake shown beside its field), billing proposes, its head returns it once and approves,
the agent replies by SMS and calls back, and an auditor finds the case and exports it.

Screenshots for the README go to docs/screenshots/ (1280 px wide, and 390 px for phones)."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT
from tests.served.driver import STEP_LIMIT_S

SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "kefu123"  # the demo centre's (engine/demo/organisation.yaml)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class Staff:
    """One browser window, used by one person after another."""

    def __init__(self, browser: Any, server: dict[str, Any], viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport, accept_downloads=True,
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30_000)  # 2 shared cores in CI
        self.base = server["base"]
        self.clock = server["clock"]
        self.steps: list[tuple[str, float]] = []

    def go(self, path: str) -> Any:
        self.page.goto(self.base + path)
        return self.page

    def login(self, username: str) -> None:
        page = self.go("/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        with page.expect_navigation():
            page.get_by_role("button", name="登录").click()
        assert page.url.endswith(("/inbox", "/dashboard")), page.url  # leaders: dashboard

    def logout(self) -> None:
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="退出").click()
        assert "/login" in self.page.url
        self.clock.advance(minutes=20)

    def open_task(self, section: str, title: str, claim: bool = False) -> None:
        page = self.go("/inbox")
        row = page.locator(f"#{section} tbody tr", has_text=title)
        if claim:
            row.get_by_role("button", name="认领").click()
            row = page.locator("#mine tbody tr", has_text=title)
        row.get_by_role("link", name=title).click()
        assert page.locator("h1").inner_text() == title

    def submit(self, label: str = "完成任务") -> None:
        """Press the form's button; the answer must come within STEP_LIMIT_S (issue 12: on
        the served product every step that set a deadline once took 30 s)."""
        started = time.perf_counter()
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=label).click()
        took = time.perf_counter() - started
        self.steps.append((self.page.url, took))
        assert took < STEP_LIMIT_S, (self.page.url, took)

    def fits(self) -> None:
        """Nothing on the page is wider than the screen (the diagram scrolls in its box)."""
        self.page.wait_for_load_state()
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= self.page.viewport_size["width"], (self.page.url, width)

    def shot(self, name: str, full_page: bool = False) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / name), full_page=full_page)


def check(page: Any, name: str, value: str) -> None:
    page.locator(f'input[name="{name}"][value="{value}"]').check()


@pytest.fixture(scope="module")
def desk(browser: Any, server: dict[str, Any]) -> Staff:
    return Staff(browser, server, DESKTOP)


def test_C1_to_C10_a_complaint_from_intake_to_archive_and_audit(desk: Staff, browser: Any,
                                                               server: dict[str, Any]) -> None:
    page = desk.page
    # C1, C2: the agent registers the complaint and prints the receipt.
    desk.login("agent01")
    desk.go("/start")
    page.get_by_role("link", name="投诉处理").click()
    page.fill("#in-complainant_name", "陈先生")
    page.fill("#in-complainant_phone", "13800138000")
    check(page, "channel", "hotline")
    page.select_option("#in-category", "fee")
    page.fill("#in-content", "本月话费多扣了 30 元，要求退还。<script>alert(1)</script>")
    desk.submit("提交")
    assert "投诉受理回执" in page.locator("h1").inner_text()
    number = page.locator("dd.big").first.inner_text()
    assert number.startswith("TS20261123")
    assert "138****8000" in page.content() and "<script>alert(1)</script>" in page.inner_text(
        "article")  # shown as text, never run
    desk.logout()

    # C3, C4: the duty supervisor claims, contacts, and judges (one mistake first).
    desk.login("duty01")
    desk.open_task("offered", "联系投诉人", claim=True)
    assert "13800138000" in page.inner_text(".case-panel")  # the handler sees it in full
    check(page, "reached", "true")
    page.fill("#in-contact_notes", "已电话联系，客户确认多扣费。")
    desk.submit()
    assert "已完成" in page.inner_text(".flash")
    desk.open_task("offered", "投诉判断")
    check(page, "justified", "true")
    page.fill("#in-judgement_notes", "计费错误，投诉成立。")
    desk.submit()
    error = page.locator("#field-department .error")
    assert error.inner_text() == "必填"
    assert page.input_value("#in-judgement_notes") == "计费错误，投诉成立。"  # kept
    desk.shot("task-form-error.png", full_page=True)
    check(page, "department", "billing")
    desk.submit()
    desk.logout()

    # C6: billing proposes, its head returns it once with reasons, then approves.
    desk.login("bill01")
    desk.open_task("offered", "部门处理方案", claim=True)
    page.fill("#in-cause", "计费系统重复扣费")
    page.fill("#in-solutions", "退还 30 元\n赠送 1GB 流量")
    desk.submit()
    desk.logout()
    desk.login("billhead")
    desk.open_task("offered", "部门负责人审批")
    check(page, "approved", "false")
    page.fill("#in-return_reasons", "请核实是否还有其他月份重复扣费。")
    desk.submit()
    desk.logout()
    desk.login("bill01")  # the returned proposal is back in its author's own tasks, marked
    assert "已退回" in desk.go("/inbox").inner_text("#mine")
    desk.open_task("mine", "部门处理方案")
    assert "请核实是否还有其他月份重复扣费。" in page.inner_text("#field-return_reasons")
    page.fill("#in-compensation", "退还 30 元")
    desk.submit()
    desk.logout()
    desk.login("billhead")
    desk.open_task("offered", "部门负责人审批")
    check(page, "approved", "true")
    page.fill("#in-chosen_solution", "退还 30 元")
    page.fill("#in-instruction", "同意退费并致歉。")
    desk.submit()
    desk.logout()

    # C7, C8: the agent replies by SMS, then calls back; the case is archived (C10).
    desk.login("agent01")
    desk.go("/inbox")
    assert page.locator("#mine tbody tr", has_text="答复客户").count() == 1
    desk.shot("inbox.png")
    phone = Staff(browser, server, PHONE)
    phone.login("agent01")
    phone.fits()
    phone.shot("inbox-phone.png")
    desk.open_task("mine", "答复客户")
    check(page, "reply_channel", "sms")
    page.fill("#in-cause", "计费系统重复扣费")
    page.fill("#in-solution", "已退还 30 元")
    page.fill("#in-follow_up", "下月账单将再次核对")
    desk.submit("预览答复")
    assert "已退还 30 元" in page.inner_text("#preview-sms")  # C7: the exact text, first
    desk.submit("确认发送")
    desk.clock.advance(days=1)
    desk.login("agent01")  # a day later the idle session has ended (engine.people.signin)
    desk.open_task("mine", "回访")
    check(page, "reached", "true")
    check(page, "satisfied", "true")
    page.select_option("#in-satisfaction", "5")
    desk.submit()
    desk.go(f"/cases/{number}")
    assert "已结案" in page.inner_text("h1")
    assert "工号1001" in page.inner_text(".sms")
    desk.logout()

    # A2: an auditor finds the case by the customer's phone, opens it and exports it.
    desk.login("audit01")
    desk.go("/audit/")
    page.fill('input[name="phone"]', "13800138000")
    page.get_by_role("button", name="查询").click()
    page.get_by_role("link", name=number).click()
    timeline = page.inner_text(".timeline")
    for step in ("受理投诉", "联系投诉人", "投诉判断", "部门处理方案", "部门负责人审批", "答复客户",
                 "回访"):
        assert step in timeline
    assert page.locator("svg.bpmn .node.done").count() >= 8
    assert page.locator('svg.bpmn .node.done[data-id="archived"]').count() == 1
    desk.shot("case.png")
    page.locator(".diagram").screenshot(path=str(SHOTS / "case-diagram.png"))
    with page.expect_download() as download:
        page.get_by_role("link", name="导出历史记录（CSV）").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig"))))
    assert [r[4] for r in rows if r[3] == "已完成"] == [  # words, not codes (issue 15)
        "受理投诉", "联系投诉人", "投诉判断", "部门处理方案", "部门负责人审批", "部门处理方案",
        "部门负责人审批", "答复客户", "回访"]
    desk.go("/audit/")  # C12: the phone is posted, never put in the URL
    page.fill('input[name="phone"]', "13800138000")
    page.get_by_role("button", name="查询").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="导出查询结果（CSV）").click()
    result = Path(download.value.path()).read_text("utf-8-sig")
    assert number in result and "138****8000" in result
    phone.logout()
    phone.login("audit01")
    phone.go(f"/cases/{number}")
    phone.fits()
    phone.shot("case-phone.png")
    for path in ("/audit/?all=1", "/audit/verify", "/processes/", "/processes/complaint/v1",
                 f"/cases/{number}/receipt"):
        for staff in (phone, desk):
            staff.go(path)
            staff.fits()
    phone.logout()
    phone.login("agent02")
    for path in ("/start", "/start/complaint", "/inbox?due=overdue"):
        phone.go(path)
        phone.fits()
    phone.context.close()


def test_C1_a_form_is_sent_once_however_often_its_button_is_pressed(browser: Any,
                                                                 server: dict[str, Any]) -> None:
    """Issue 12: pressing 提交 twice sends one request; the button says it is working."""
    desk = Staff(browser, server, DESKTOP)
    page = desk.page
    desk.login("agent04")
    desk.go("/start/complaint")
    page.fill("#in-complainant_name", "林女士")
    page.fill("#in-complainant_phone", "13700137000")
    check(page, "channel", "hotline")
    page.select_option("#in-category", "fee")
    page.fill("#in-content", "同一张表单按了两次提交。")
    sent = page.evaluate("""() => {
        const form = document.querySelector("form.task-form");
        let sent = 0;  // what would leave the page; the test keeps it from leaving
        form.addEventListener("submit", (event) => {
            if (!event.defaultPrevented) { sent += 1; }
            event.preventDefault();
        });
        form.requestSubmit(); form.requestSubmit(); form.requestSubmit();
        return sent; }""")
    assert sent == 1
    button = page.locator("form.task-form button[type=submit]")
    assert button.inner_text() == "正在提交…"
    assert button.get_attribute("aria-disabled") == "true"
    desk.shot("task-form-working.png")
    desk.context.close()
