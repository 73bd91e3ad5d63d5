"""Forms that tell the truth (issue 19, item 5): an invalid field says so to a screen reader (aria-invalid,
aria-describedby at its error and help text); a declaration in more than one unit is refused beside the field
instead of being taken silently as the days; every fault of a declaration is shown in one round; each kind
of the declaration form names the categories it may be declared as (static/js/declaration_categories.js
offers only those; the browser side: tests/test_browser_declaration_categories.py)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest

from extensions import db
from models import Category, Declaration, DeclarationStatus
from services import declarations, rules
from services.errors import DomainError, Invalid
from services.infra import clock
from tests.conftest import page_queries
from tests.test_declarations import (  # noqa: F401 - fixtures
    app_config,
    count_rows,
    declare,
    form_data,
    new_learner,
    on,
    regions,
    signed_in,
    world,
)


def tag_of(html: str, name: str) -> str:
    """The opening tag of the form control named ``name``."""
    match = re.search(rf'<(?:input|select|textarea)[^>]*\bname="{name}"[^>]*>', html)
    assert match, f"no control named {name}"
    return match.group(0)


def described_by(tag: str) -> list[str]:
    match = re.search(r'aria-describedby="([^"]*)"', tag)
    return match.group(1).split() if match else []


def text_of_id(html: str, element_id: str) -> str:
    match = re.search(rf'<div id="{element_id}"[^>]*>(.*?)</div>\s*(?:</div>|<div)', html, re.S)
    if match is None:  # the help text: one div
        match = re.search(rf'<div class="form-text" id="{element_id}">(.*?)</div>', html, re.S)
    assert match, f"nothing with id {element_id}"
    return re.sub(r"<[^>]+>", "", match.group(1))


# --- the field macro --------------------------------------------------------------------------------------

def test_a_valid_field_is_not_marked_invalid_and_points_at_its_help_text(app, world):  # noqa: F811
    page = signed_in(app, world.learner).get("/me/declarations/new").get_data(as_text=True)
    minutes = tag_of(page, "minutes")
    assert "aria-invalid" not in minutes
    assert described_by(minutes) == ["minutes-help"]
    assert "分钟" in text_of_id(page, "minutes-help")
    assert "aria-invalid" not in tag_of(page, "title") and described_by(tag_of(page, "title")) == []


def test_an_invalid_declaration_field_carries_aria_invalid_and_points_at_its_error(app, world):  # noqa: F811
    client = signed_in(app, world.learner)
    response = client.post("/me/declarations/new", data=form_data(minutes=-100),
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    minutes = tag_of(page, "minutes")
    assert 'aria-invalid="true"' in minutes
    assert described_by(minutes) == ["minutes-error", "minutes-help"]
    assert "不足一天的请填写分钟数" in text_of_id(page, "minutes-error")
    assert "aria-invalid" not in tag_of(page, "title")


@pytest.mark.parametrize(("url", "data", "name"), [
    ("/register", {"name": "", "phone": "1", "email": "not-an-email"}, "email"),
    ("/register", {"name": "", "phone": "1"}, "consent"),  # a field written by hand, not by _macros.field
    ("/login", {"login": "", "password": ""}, "login"),
])
def test_invalid_fields_of_public_forms_carry_aria_invalid(client, url, data, name):
    page = client.post(url, data=data).get_data(as_text=True)
    tag = tag_of(page, name)
    assert 'aria-invalid="true"' in tag
    assert f"{name}-error" in described_by(tag)
    assert re.search(rf'<div id="{name}-error"><div class="invalid-feedback d-block">[^<]+</div>', page)


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


# A control written by hand: an HTML tag (Jinja blocks inside it skipped whole) or a field called in {{ … }}.
CONTROL = re.compile(r"<(?:input|select|textarea)\b(?:\{%.*?%\}|\{\{.*?\}\}|[^>])*>|\{\{.*?\}\}", re.S)


def test_every_field_marked_invalid_by_hand_also_tells_a_screen_reader():
    """A template that writes a field itself (not through _macros.field) and marks it is-invalid gives it
    app.invalid_field's attributes too (aria-invalid, aria-describedby at its errors), or writes them."""
    silent = [f"{path.relative_to(TEMPLATES)}: {control.group(0)[:60]}"
              for path in sorted(TEMPLATES.rglob("*.html")) if path.name != "_macros.html"
              for control in CONTROL.finditer(path.read_text(encoding="utf-8"))
              if "is-invalid" in control.group(0) or "invalid_class" in control.group(0)
              if not re.search(r"invalid\(|aria-invalid|\*\*aria\b", control.group(0))]

    assert silent == []


# --- declarations: one unit, every fault in one round -------------------------------------------------------

@pytest.mark.parametrize("amounts", [
    {"minutes": 30, "days": 2, "hours": 8},
    {"minutes": 30, "days": 2},
    {"days": 2, "hours": 8},
])
def test_a_declaration_in_more_than_one_unit_is_refused_not_taken_as_the_days(world, amounts):  # noqa: F811
    with pytest.raises(DomainError) as refused:
        declare(world.yantai_learner, "conference", **amounts)
    assert "只能填写一项" in refused.value.message
    assert refused.value.field == next(iter(amounts))
    assert count_rows(Declaration) == 0


def test_minutes_days_and_hours_all_filled_are_refused_beside_the_field_in_the_form(app, world):  # noqa: F811
    client = signed_in(app, world.learner)
    response = client.post("/me/declarations/new", data=form_data(minutes=30, days=2, hours=8),
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "时长（分钟）、天数、申报学时只能填写一项" in text_of_id(page, "minutes-error")
    assert count_rows(Declaration) == 0


def test_every_fault_of_a_declaration_is_named_at_once(world):  # noqa: F811
    future = clock.today() + timedelta(days=3)
    with pytest.raises(Invalid) as refused:
        declare(world.learner, "research", "public", earned_on=future, files=[], minutes=30, days=2)
    fields = refused.value.fields
    assert list(fields) == ["category", "earned_on", "minutes", "hours", "files"]  # research is in hours
    assert fields["earned_on"] == "日期不能晚于今天" and fields["files"] == "请上传证明材料"
    assert refused.value.field == "category"  # the topmost, as the form reads
    assert count_rows(Declaration) == 0


def test_the_form_shows_every_fault_of_a_declaration_in_one_round(app, world):  # noqa: F811
    client = signed_in(app, world.learner)
    future = clock.today() + timedelta(days=3)
    response = client.post("/me/declarations/new", content_type="multipart/form-data",
                           data=form_data(earned_on=future, files=[], minutes=30, days=2))
    page = response.get_data(as_text=True)
    for name in ("earned_on", "minutes", "files"):
        assert 'aria-invalid="true"' in tag_of(page, name), name
    assert "日期不能晚于今天" in text_of_id(page, "earned_on-error")
    assert "请上传证明材料" in text_of_id(page, "files-error")
    assert count_rows(Declaration) == 0


def test_a_title_left_empty_no_longer_hides_the_services_faults(app, world):  # noqa: F811
    """The empty title is the form's to say; before, with it refused the service was not asked, and the date,
    the amounts and the missing file came back only on the next submit."""
    client = signed_in(app, world.learner)
    future = clock.today() + timedelta(days=3)
    response = client.post("/me/declarations/new", content_type="multipart/form-data",
                           data=form_data(title="", earned_on=future, files=[], minutes=30, days=2))
    page = response.get_data(as_text=True)
    assert text_of_id(page, "title-error") == "请填写名称"
    assert "日期不能晚于今天" in text_of_id(page, "earned_on-error")
    assert "只能填写一项" in text_of_id(page, "minutes-error")
    assert "请上传证明材料" in text_of_id(page, "files-error")
    assert count_rows(Declaration) == 0


def test_editing_with_a_title_left_empty_shows_the_amounts_fault_too(app, world):  # noqa: F811
    filed = declare(world.learner, minutes=90)
    client = signed_in(app, world.learner)
    response = client.post(f"/me/declarations/{filed.id}/edit",
                           data={**form_data(title="", minutes=-5), "files": None})
    page = response.get_data(as_text=True)
    assert text_of_id(page, "title-error") == "请填写名称"
    assert "不足一天的请填写分钟数" in text_of_id(page, "minutes-error")
    db.session.expire_all()
    assert db.session.get(Declaration, filed.id).minutes == 90


# --- a rejected declaration is corrected and filed again (重新申报) ----------------------------------------

def rejected_declaration(w):
    filed = declare(w.learner, minutes=180, title="省医学会年会")
    return declarations.review(w.reviewer, filed.id, False, None, "证明材料看不清，请重新上传")


def test_a_rejected_declaration_offers_to_be_filed_again(app, world):  # noqa: F811
    rejected = rejected_declaration(world)
    pending = declare(world.learner, minutes=90, title="病例讨论会")
    page = signed_in(app, world.learner).get("/me/declarations").get_data(as_text=True)
    assert page.count("重新申报") == 1
    assert f'href="/me/declarations/new?again={rejected.id}"' in page
    assert f"again={pending.id}" not in page


def test_filing_again_starts_from_the_rejected_declaration_and_files_a_new_one(app, world):  # noqa: F811
    rejected = rejected_declaration(world)
    client = signed_in(app, world.learner)
    page = client.get(f"/me/declarations/new?again={rejected.id}").get_data(as_text=True)
    assert "证明材料看不清，请重新上传" in page  # the reason, to correct by
    assert 'value="省医学会年会"' in tag_of(page, "title")
    assert 'value="180"' in tag_of(page, "minutes")
    assert 'action="/me/declarations/new"' in page

    response = client.post("/me/declarations/new", content_type="multipart/form-data",
                           data=form_data(title="省医学会年会", minutes=180))
    assert response.status_code == 302
    assert count_rows(Declaration) == 2
    assert count_rows(Declaration, Declaration.status == DeclarationStatus.PENDING) == 1


def test_only_ones_own_rejected_declaration_can_be_filed_again(app, world):  # noqa: F811
    rejected = rejected_declaration(world)
    pending = declare(world.learner, minutes=90)
    assert signed_in(app, world.colleague).get(f"/me/declarations/new?again={rejected.id}").status_code == 404
    client = signed_in(app, world.learner)
    assert client.get(f"/me/declarations/new?again={pending.id}").status_code == 404
    assert client.get("/me/declarations/new?again=999999").status_code == 404


# --- the declaration form offers each kind's categories only -----------------------------------------------

def categories_of_kinds(html: str) -> dict[str, list[str]]:
    """{kind: the categories its <option> names in data-categories}, from the form's kind select."""
    select = re.search(r'<select[^>]*name="kind".*?</select>', html, re.S)
    assert select, "no kind select"
    options = re.findall(r'<option data-categories="([^"]*)"(?: selected)? value="([^"]+)"', select.group(0))
    assert options, "the kinds carry no categories"
    return {value: names.split() for names, value in options}


@pytest.mark.parametrize("who", ["learner", "yantai_learner"])  # Chengdu: notice 003's list; Yantai: 004's
def test_each_kind_offered_names_the_categories_its_regions_rules_allow(app, world, who):  # noqa: F811
    learner = getattr(world, who)
    page = signed_in(app, learner).get("/me/declarations/new").get_data(as_text=True)
    in_force = rules.kinds_in_force(learner.region, clock.today().year)
    assert categories_of_kinds(page) == {
        kind.value: [c.value for c in spec.categories] for kind, spec in in_force.items() if spec.accepted}


def test_yantai_offers_a_competition_as_public_or_professional_and_a_conference_as_professional(app, world):  # noqa: F811
    page = signed_in(app, world.yantai_learner).get("/me/declarations/new").get_data(as_text=True)
    kinds = categories_of_kinds(page)
    assert kinds["competition"] == ["public", "professional"] and kinds["conference"] == ["professional"]
    assert 'src="/static/js/declaration_categories.js"' in page and "data-declaration-form" in page


def test_a_filed_declarations_kind_also_names_the_category_it_was_filed_as(app, world):  # noqa: F811
    """Filed as 公需科目 when the rule allowed it (the rule has changed since): editing keeps it on offer, as
    the service keeps accepting it (declarations._check)."""
    filed = declare(world.learner, minutes=90)
    filed.category = Category.PUBLIC
    db.session.commit()
    page = signed_in(app, world.learner).get(f"/me/declarations/{filed.id}/edit").get_data(as_text=True)
    kinds = categories_of_kinds(page)
    assert kinds["conference"] == ["professional", "public"]
    assert kinds["degree"] == ["professional"]  # another kind gains nothing from it


def test_the_declaration_form_issues_as_many_queries_for_eight_kinds_as_for_four(app, world, regions):  # noqa: F811
    """The categories come from the rules the page loads anyway: no query per kind or option."""
    zhengzhou_learner = new_learner(regions["410100"], world.hospital)
    chengdu, zhengzhou = signed_in(app, world.learner), signed_in(app, zhengzhou_learner)
    four = page_queries(chengdu, "/me/declarations/new")
    eight = page_queries(zhengzhou, "/me/declarations/new")
    assert len(categories_of_kinds(chengdu.get("/me/declarations/new").get_data(as_text=True))) == 4
    assert len(categories_of_kinds(zhengzhou.get("/me/declarations/new").get_data(as_text=True))) == 8
    assert len(four) == len(eight), "\n".join(eight)
