"""The kinds of declared learning per region and year (issue 14): which kinds a region accepts, as which
categories, from how many days (Chengdu's 20 days abroad, notice 003, is Chengdu's), inherited from province
to city, offered by the learner's form, refused beside the field when forged, edited by regulators with
validation, a preview counted by the database, an audit entry and no effect on a confirmed year; a change for
next year leaves this year alone, and a declaration already filed keeps the rule it was filed under."""

import re
from datetime import date
from io import BytesIO
from itertools import count

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    AuditLog,
    Category,
    Declaration,
    DeclarationKind,
    DeclarationKindRule,
    Employer,
    Evaluation,
    EvaluationStatus,
    Role,
)
from seeding.demo import seed_reference
from services import accounts, declarations, resident_ids, rule_edits, rules
from services.errors import DomainError
from services.infra import clock
from tests.conftest import PASSWORD, employ, login

TODAY = date(2026, 6, 15)
YEAR, NEXT = 2026, 2027
ABROAD = DeclarationKind.ABROAD
MIN_DAYS = rules.kind_key(ABROAD, "min_days")
ACCEPTED = rules.kind_key(ABROAD, "accepted")
_people = count(1)


@pytest.fixture
def regions(app, monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    return seed_reference()


@pytest.fixture
def regulator(make_user, regions):
    def make(code):
        return make_user(Role.REGULATOR, region_id=regions[code].id, name=f"{regions[code].name}人社部门")

    return make


def learner_of(region):
    """A learner of ``region`` with an employer there (declarations go to the employer's reviewers)."""
    n = next(_people)
    employer = Employer(name=f"单位{n}", region_id=region.id)
    db.session.add(employer)
    db.session.commit()
    first17 = f"37060219900307{n:03d}"
    learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": f"学员{n}", "phone": f"137{n:08d}", "email": f"kind-learner{n}@test.example",
        "password": PASSWORD, "id_number": first17 + resident_ids.check_character(first17), "region_id": region.id,
    })
    employ(learner, employer)
    return learner


def declare(learner, kind="abroad", category=None, **amounts):
    data = {"kind": kind, "category": category, "title": "赴德国研修考察", "organiser": "", "earned_on": TODAY,
            "minutes": None, "days": None, "hours": None, **amounts}
    files = [FileStorage(stream=BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="证明.pdf")]
    return declarations.declare(learner, data, files)


def own_values(user, year) -> dict:
    return dict(rule_edits.page(user, year).own_values())


def save_previewed(user, year, values, confirm=()):
    """Save as the page does: preview, then save what was previewed."""
    preview = rule_edits.preview(user, year, values, confirm)
    return rule_edits.save(user, year, values, confirm, seen=preview.seen, previewed=preview.digest)


def declaration_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Declaration))


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


# --- each region's own list ---------------------------------------------------------------------------------

def test_a_chengdu_learners_15_days_abroad_are_refused_and_a_yantai_learners_are_not(regions):
    """Chengdu counts study abroad of 20 days or more (003 三.(三).2); Yantai's notice (004) states no minimum."""
    with pytest.raises(DomainError) as refused:
        declare(learner_of(regions["510100"]), days=15)
    assert refused.value.field == "days" and "须满 20 天" in refused.value.message
    assert declaration_count() == 0
    assert declare(learner_of(regions["370600"]), days=15).hours_claimed == 15 * 8
    assert declare(learner_of(regions["510100"]), days=20).hours_claimed == 20 * 8


def test_a_kind_the_region_does_not_accept_is_refused_beside_the_kind(regions):
    """Chengdu's notice lists training, abroad, research and degrees; a competition is Yantai's (004)."""
    with pytest.raises(DomainError) as refused:
        declare(learner_of(regions["510100"]), "competition", "public", hours=5)
    assert refused.value.field == "kind" and "不接受" in refused.value.message
    assert declare(learner_of(regions["370600"]), "competition", "public", hours=5).hours_claimed == 5
    assert declaration_count() == 1


@pytest.mark.parametrize(("kind", "category", "field"), [
    ("competition", "elective", "category"),  # Yantai: public or professional (004)
    ("abroad", "public", "category"),
    ("competition", "nonsense", "category"),
    ("lottery", "public", "kind"),
])
def test_a_forged_kind_or_category_is_refused_beside_the_field(regions, kind, category, field):
    with pytest.raises(DomainError) as refused:
        declare(learner_of(regions["370600"]), kind, category, hours=5, days=20)
    assert refused.value.field == field
    assert declaration_count() == 0


def test_the_form_offers_what_the_region_accepts_and_refuses_a_forged_kind_on_the_page(app, regions):
    chengdu, yantai = learner_of(regions["510100"]), learner_of(regions["370600"])
    page = signed_in(app, chengdu).get("/me/declarations/new").text
    kinds = re.search(r'<select[^>]*name="kind".*?</select>', page, re.S).group(0)
    assert 'value="abroad"' in kinds and 'value="competition"' not in kinds and 'value="self_study"' not in kinds
    assert re.search(r'data-kind="abroad">[^<]*须满 20 天', page)
    assert "技能竞赛每年最多" not in page  # Yantai's caps are not Chengdu's

    yantai_client = signed_in(app, yantai)
    page = yantai_client.get("/me/declarations/new").text
    assert 'value="competition"' in page and "须满" not in page
    assert 'data-cap="competition-public"' in page

    forged = {"kind": "competition", "category": "public", "title": "技能竞赛", "organiser": "",
              "earned_on": TODAY.isoformat(), "minutes": "", "days": "", "hours": "5",
              "files": [(BytesIO(b"%PDF-1.4\n%%EOF\n"), "证明.pdf")]}
    response = signed_in(app, chengdu).post("/me/declarations/new", data=forged, content_type="multipart/form-data")
    assert response.status_code == 200
    assert "成都市2026年度不接受“技能竞赛、技术比武”申报学时" in response.text
    assert declaration_count() == 0


def test_guangdong_and_henan_accept_the_general_list_as_defaults_to_confirm(regions):
    for code in ("440100", "410100"):  # cities inheriting their province's seeded rows
        kinds = rules.kinds_in_force(regions[code], YEAR)
        assert all(k.accepted for k in kinds.values())
        assert kinds[ABROAD].min_days == 0
    loaded = rules.resolve(rules.kind_rows(db.session.execute(sa.select(DeclarationKindRule).where(
        DeclarationKindRule.region_id == regions["440000"].id, DeclarationKindRule.year == YEAR)).scalars().all(),
        [regions["440000"].id]), rules.KIND_KEYS)
    assert loaded[ACCEPTED].is_default and not loaded[MIN_DAYS].is_default
    chengdu = rules.resolve(rules.kind_rows(db.session.execute(sa.select(DeclarationKindRule).where(
        DeclarationKindRule.region_id == regions["510100"].id, DeclarationKindRule.year == YEAR)).scalars().all(),
        [regions["510100"].id]), rules.KIND_KEYS)
    assert chengdu[MIN_DAYS].value == 20 and not chengdu[MIN_DAYS].is_default and not chengdu[ACCEPTED].is_default
    # A region no notice covers and nobody has set: every kind, no minimum, flagged on the page.
    assert all(k.accepted and k.min_days == 0 for k in rules.kinds_in_force(regions["510000"], YEAR).values())
    assert "20" not in DeclarationKind.ABROAD.label


# --- inheritance --------------------------------------------------------------------------------------------

def test_a_city_inherits_its_provinces_kind_rules_where_it_sets_none(regions, regulator, make_region):
    qingdao = make_region("青岛市", parent=regions["370000"])
    shandong, yantai = regulator("370000"), regulator("370600")
    save_previewed(shandong, NEXT, own_values(shandong, NEXT) | {MIN_DAYS: 10})
    assert rules.kinds_in_force(qingdao, NEXT)[ABROAD].min_days == 10
    assert rules.kinds_in_force(regions["370600"], NEXT)[ABROAD].min_days == 10  # Yantai sets no minimum
    save_previewed(yantai, NEXT, own_values(yantai, NEXT) | {MIN_DAYS: 0})  # 0: none, set here
    assert rules.kinds_in_force(regions["370600"], NEXT)[ABROAD].min_days == 0
    assert rules.kinds_in_force(qingdao, NEXT)[ABROAD].min_days == 10
    assert rules.kinds_in_force(regions["370600"], YEAR)[ABROAD].min_days == 0  # this year untouched


# --- editing: validation, preview, audit, confirmed years ---------------------------------------------------

def test_preview_counts_the_learners_a_kind_change_reaches_and_writes_nothing(regions, regulator, make_region,
                                                                              make_user):
    qingdao = make_region("青岛市", parent=regions["370000"])
    for region, n in ((regions["370600"], 3), (qingdao, 2), (regions["370000"], 1), (regions["510100"], 4)):
        for _ in range(n):
            make_user(Role.LEARNER, region_id=region.id)
    yantai, shandong = regulator("370600"), regulator("370000")

    (change,) = rule_edits.preview(yantai, NEXT, own_values(yantai, NEXT) | {MIN_DAYS: 20}).changes
    assert (change.key, change.old, change.new, change.direction, change.learners) == (MIN_DAYS, None, 20, "设定", 3)
    assert rules.kinds_in_force(regions["370600"], NEXT)[ABROAD].min_days == 0

    # Shandong's refusal of study abroad reaches its own learners and Qingdao's; Yantai accepts it itself.
    (change,) = rule_edits.preview(shandong, NEXT, own_values(shandong, NEXT) | {ACCEPTED: "no"}).changes
    assert (change.old, change.new, change.learners) == (rules.Accepted.YES, rules.Accepted.NO, 1 + 2)
    assert rules.kinds_in_force(qingdao, NEXT)[ABROAD].accepted


def test_saving_a_kind_rule_audits_it_and_leaves_this_years_declarations_alone(regions, regulator):
    yantai = regulator("370600")
    categories = rules.kind_key(DeclarationKind.COMPETITION, "categories")
    save_previewed(yantai, NEXT, own_values(yantai, NEXT) | {MIN_DAYS: 20, categories: ["professional"]})

    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "rules.set")).scalar_one()
    assert (entry.actor_id, entry.object_id, entry.details["year"]) == (yantai.id, regions["370600"].id, NEXT)
    assert entry.details["changes"][MIN_DAYS] == [None, 20]
    assert entry.details["changes"][categories] == [["public", "professional"], ["professional"]]
    assert rules.kinds_in_force(regions["370600"], NEXT)[DeclarationKind.COMPETITION].categories == (
        Category.PROFESSIONAL,)
    learner = learner_of(regions["370600"])
    assert declare(learner, days=15).year == YEAR  # next year's minimum is next year's
    assert declare(learner, "competition", "public", hours=3).category == Category.PUBLIC


def test_bad_kind_values_are_refused_beside_the_field_and_nothing_is_saved(app, regions, regulator):
    yantai = regulator("370600")
    with pytest.raises(rule_edits.RulesRefused) as refused:
        rule_edits.save(yantai, NEXT, own_values(yantai, NEXT) | {MIN_DAYS: 400}, seen=None, previewed=None)
    assert refused.value.problems == {MIN_DAYS: "应在 0 到 366 之间"}
    with pytest.raises(rule_edits.RulesRefused) as refused:
        rule_edits.save(yantai, NEXT, own_values(yantai, NEXT) | {rules.kind_key(ABROAD, "categories"): ["x"]},
                        seen=None, previewed=None)
    assert refused.value.problems == {rules.kind_key(ABROAD, "categories"): "请选择列表中的科目类别"}
    db.session.rollback()

    form = {key: "" if value is None else [c.value for c in value] if isinstance(value, tuple)
            else getattr(value, "value", value) for key, value in own_values(yantai, NEXT).items()}
    response = signed_in(app, yantai).post("/regulator/rules",
                                           data=form | {"year": NEXT, MIN_DAYS: "-1", "action": "save"})
    assert response.status_code == 400
    row = re.search(rf'<tr data-key="{MIN_DAYS}">.*?</tr>', response.text, re.S).group(0)
    assert "应在 0 到 366 之间" in row
    assert rules.kinds_in_force(regions["370600"], NEXT)[ABROAD].min_days == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)
                             .where(AuditLog.action == "rules.set")) == 0


def test_the_page_shows_the_kinds_and_flags_the_defaults(app, regions, regulator):
    page = signed_in(app, regulator("440000")).get(f"/regulator/rules?year={NEXT}").text
    row = re.search(rf'<tr data-key="{ACCEPTED}">.*?</tr>', page, re.S).group(0)
    assert "接受" in row and "默认值，待确认" in row
    page = signed_in(app, regulator("510100")).get(f"/regulator/rules?year={NEXT}").text
    row = re.search(rf'<tr data-key="{MIN_DAYS}">.*?</tr>', page, re.S).group(0)
    assert "20" in row and "默认值，待确认" not in row
    row = re.search(r'<tr data-key="kind_competition_accepted">.*?</tr>', page, re.S).group(0)
    assert "不接受" in row


def test_a_confirmed_year_refuses_a_kind_change(regions, regulator):
    db.session.add(Evaluation(year=2025, region_id=regions["510100"].id, status=EvaluationStatus.CONFIRMED))
    db.session.commit()
    chengdu = regulator("510100")
    with pytest.raises(rule_edits.RulesRefused) as refused:
        rule_edits.save(chengdu, 2025, own_values(chengdu, 2025) | {MIN_DAYS: 10}, seen=None, previewed=None)
    assert refused.value.problems == {"year": "2025年度的评估已确认，该年度的规则不能再修改"}
    db.session.rollback()
    assert rules.kinds_in_force(regions["510100"], 2025)[ABROAD].min_days == 20


# --- a declaration already filed ----------------------------------------------------------------------------

def test_a_filed_declaration_keeps_the_rule_it_was_filed_under(regions, regulator, make_user):
    """Yantai raises this year's minimum to 20 days and stops accepting study abroad after a learner filed 15
    days: the learner may still correct the title, and the reviewer approves it; a changed number of days is
    judged by the rule in force."""
    learner = learner_of(regions["370600"])
    filed = declare(learner, days=15)
    yantai = regulator("370600")
    save_previewed(yantai, YEAR, own_values(yantai, YEAR) | {MIN_DAYS: 20, ACCEPTED: "no"})
    with pytest.raises(DomainError):
        declare(learner_of(regions["370600"]), days=25)  # a new one is refused: not accepted now

    data = {"category": "professional", "title": "赴德国研修考察（更正）", "organiser": "", "earned_on": TODAY,
            "minutes": None, "days": 15, "hours": None}
    assert declarations.edit(learner, filed.id, data).title == "赴德国研修考察（更正）"
    with pytest.raises(DomainError) as refused:
        declarations.edit(learner, filed.id, data | {"days": 16})
    assert refused.value.field == "days" and "须满 20 天" in refused.value.message
    db.session.rollback()

    reviewer = make_user(Role.REVIEWER, employer_id=learner.employer_id, region_id=regions["370600"].id)
    assert declarations.review(reviewer, filed.id, True, None, "").hours_credited == 15 * 8


def test_a_default_kind_value_is_confirmed_as_it_stands(regions, regulator):
    guangdong = regulator("440000")

    def flagged():
        return {row.key for _name, _title, rows in rule_edits.page(guangdong, NEXT).groups for row in rows
                if row.flagged and row.key in rules.KIND_KEYS}

    assert ACCEPTED in flagged()
    save_previewed(guangdong, NEXT, own_values(guangdong, NEXT), confirm=[ACCEPTED])
    assert ACCEPTED not in flagged() and rules.kind_key(ABROAD, "categories") in flagged()
    assert rules.kinds_in_force(regions["440100"], NEXT)[ABROAD].accepted
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "rules.set")).scalar_one()
    assert entry.details["confirmed"] == [ACCEPTED]
