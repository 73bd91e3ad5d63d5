"""Confirmation before what cannot be undone (issue 19): every irreversible button asks first, either by a
data-confirm question that static/js/confirm.js puts to window.confirm(), or by a checkbox the server requires
(确认评估结论, a base's 退出, closing an account); and an action's message is where the eye is."""

import re
from pathlib import Path

import pytest

from models import BaseStatus, BaseStatusChange, Evaluation, EvaluationStatus, PlanStatus, TrainingBase
from tests.conftest import after_the_year
from tests.test_regulator import (  # noqa: F401  fixtures and helpers shared with test_regulator
    count,
    flashed,
    learner,
    reload,
    signed_in,
    world,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# A button whose text holds one of these ends something for good (or for the other party): it must ask first.
# 退出 alone is not here: it is also the navbar's sign-out; a base's exit is its status form's (tested below).
IRREVERSIBLE = ("取消课程", "取消报名", "放弃候补", "吊销", "撤销", "撤回", "驳回", "不予确认", "注销账号",
                "确认评估结论")
# A form that asks on the server instead carries a checkbox the form requires.
SERVER_CONFIRMATION = re.compile(r"\b(?:form|confirm_form)\.(?:confirmed|understood)\b")
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
BUTTON = re.compile(r"<button\b([^>]*)>(.*?)</button>", re.S)


def irreversible_buttons():
    """(template, button text, asks) for every submit button in a form whose text is an irreversible verb."""
    for path in sorted(TEMPLATES.rglob("*.html")):
        source = path.read_text(encoding="utf-8")
        for form in FORM.finditer(source):
            form_tag, body = form.groups()
            for button in BUTTON.finditer(body):
                tag, text = button.groups()
                if 'type="button"' in tag or not any(verb in text for verb in IRREVERSIBLE):
                    continue
                asks = ("data-confirm=" in form_tag or "data-confirm=" in tag
                        or SERVER_CONFIRMATION.search(body) is not None)
                yield str(path.relative_to(TEMPLATES)), text.strip(), asks


def test_the_scan_finds_the_irreversible_buttons_named_in_the_issue():
    found = {(template, text) for template, text, _asks in irreversible_buttons()}
    for template in ("base_admin/course_form.html", "learner/dashboard.html", "_tokens.html",
                     "regulator/reviews.html", "regulator/evaluation.html", "auth/close.html", "regulator/index.html"):
        assert any(t == template for t, _text in found), template


def test_every_irreversible_button_asks_before_it_acts():
    silent = [(template, text) for template, text, asks in irreversible_buttons() if not asks]

    assert silent == []


def test_every_page_loads_the_confirmation_script_deferred_from_the_app(client):
    page = client.get("/").get_data(as_text=True)

    assert '<script src="/static/js/confirm.js" defer></script>' in page
    script = client.get("/static/js/confirm.js")
    assert script.status_code == 200
    assert "window.confirm" in script.get_data(as_text=True)


def test_a_base_is_not_exited_without_the_confirmation_checked(app, world, regulators):
    base = world["base"]
    client = signed_in(app, regulators["city"])

    refused = client.post(f"/regulator/bases/{base.id}/status", data={"status": "exited", "reason": "违规办班"})

    assert refused.status_code == 400
    assert "改为“已退出”前，请勾选确认" in refused.get_data(as_text=True)
    assert reload(TrainingBase, base.id).status == BaseStatus.ACTIVE
    assert count(BaseStatusChange) == 0
    confirmed = client.post(f"/regulator/bases/{base.id}/status",
                            data={"status": "exited", "reason": "违规办班", "confirmed": "y"})
    assert confirmed.status_code == 302
    assert reload(TrainingBase, base.id).status == BaseStatus.EXITED


def test_a_status_change_other_than_exit_needs_no_confirmation(app, world, regulators):
    response = signed_in(app, regulators["city"]).post(f"/regulator/bases/{world['base'].id}/status",
                                                       data={"status": "rectifying", "reason": "限期整改"})

    assert response.status_code == 302
    assert reload(TrainingBase, world["base"].id).status == BaseStatus.RECTIFYING


def test_an_evaluation_is_not_confirmed_without_the_confirmation_checked(app, world, regulators, monkeypatch):
    after_the_year(monkeypatch, world["evaluation"].year)
    client = signed_in(app, regulators["city"])
    url = f"/regulator/evaluations/{world['evaluation'].id}/confirm"

    refused = client.post(url)

    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert "请先勾选确认，再确认评估结论" in page
    assert 'id="confirm-evaluation"' in page
    assert reload(Evaluation, world["evaluation"].id).status == EvaluationStatus.DRAFT
    assert client.post(url, data={"confirmed": "y"}).status_code == 302
    assert reload(Evaluation, world["evaluation"].id).status == EvaluationStatus.CONFIRMED


def test_confirming_another_regions_evaluation_unchecked_is_still_404(app, world, regulators):
    response = signed_in(app, regulators["other"]).post(f"/regulator/evaluations/{world['evaluation'].id}/confirm")

    assert response.status_code == 404


@pytest.mark.parametrize(("decision", "reason", "label"), [("approve", "", "已批准"), ("reject", "场地不符", "已驳回")])
def test_a_plan_decision_lands_on_the_page_top_with_its_message_said_once(app, world, regulators, decision, reason,
                                                                         label):
    client = signed_in(app, regulators["city"])

    response = client.post(f"/regulator/plans/{world['plan'].id}/decide",
                           data={"decision": decision, "reason": reason})

    assert response.status_code == 302
    assert "#" not in response.headers["Location"]
    messages = flashed(client.get(response.headers["Location"]).get_data(as_text=True), "success")
    assert f"办班计划“待批办班课程”{label}" in messages
    assert reload(type(world["plan"]), world["plan"].id).status == PlanStatus(
        "approved" if decision == "approve" else "rejected")


BLUEPRINTS = TEMPLATES.parent / "blueprints"


def test_no_action_sends_the_page_past_its_message():
    """Every action's message is flashed, and flashed messages are shown in one place, base.html, at the top of
    <main>: an action redirects to a page that opens at its top (no fragment: an anchor would scroll the message
    away), and a form sent back puts focus on its first invalid field (static/js/form-errors.js, the browser
    journeys of tests/test_browser_action_feedback.py)."""
    showing = [str(path.relative_to(TEMPLATES)) for path in TEMPLATES.rglob("*.html")
               if "get_flashed_messages" in path.read_text(encoding="utf-8")]
    anchored = [f"{path.relative_to(BLUEPRINTS)}:{number}"
                for path in sorted(BLUEPRINTS.rglob("*.py"))
                for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                if "_anchor" in line or re.search(r"redirect\([^)]*#", line)]

    assert showing == ["base.html"]
    assert anchored == []
