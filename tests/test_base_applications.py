"""Base applications (基地申报): an institution applies at /apply, follows its application by a secret link and
may withdraw it; the regulator who decides the type in the region reviews it against the checklist and
approves (the base and its first admin are made in one unit of work) or rejects it with a reason."""

import re
from io import BytesIO

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    ApplicationStatus,
    AuditLog,
    BaseApplication,
    BaseApplicationEvent,
    BaseApplicationFile,
    BaseMembership,
    BaseStatusChange,
    BaseType,
    Role,
    TrainingBase,
    User,
)
from services import base_applications, credit_codes, policies
from services.errors import Invalid, InvalidTransition
from services.infra import evidence_files
from tests.conftest import PASSWORD, login, page_queries

APPLICANT_PASSWORD = "Apply-2026-base"
ALL_MET = list(base_applications.CHECKLIST_KEYS)


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


def code(n: int) -> str:
    body = f"91510100MA{n:07d}"
    return body + credit_codes.check_character(body)


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png() -> bytes:
    out = BytesIO()
    PILImage.new("RGB", (32, 24), (200, 220, 240)).save(out, "PNG")
    return out.getvalue()


def form(city, n: int = 1, **changes) -> dict:
    """The application form's fields; ``city`` a Region or its id."""
    data = {
        "region_id": str(city if isinstance(city, int) else city.id), "base_type": "city",
        "name": f"成都测试职业培训学院{n}", "credit_code": code(n), "address": "成都市武侯区人民南路 1 号",
        "scope": "卫生、教育行业专业科目培训", "teachers": "专职教师 12 人，兼职 30 人",
        "facilities": "教室 8 间，网络学习平台", "management_rules": "教学管理、学员组织、考核评估制度",
        "contact_name": "王老师", "contact_phone": f"1390000{n:04d}", "contact_email": f"apply{n}@test.example",
        "password": APPLICANT_PASSWORD, "confirm": APPLICANT_PASSWORD,
    }
    data.update(changes)
    return data


def post_apply(client, data: dict, files=None):
    files = [(BytesIO(pdf()), "申报书.pdf")] if files is None else files
    return client.post("/apply/", data={**data, "files": files}, content_type="multipart/form-data")


def token_of(response) -> str:
    match = re.search(r'id="follow-link" href="[^"]*/apply/([A-Za-z0-9_-]+)"', response.get_data(as_text=True))
    assert match, "no follow link on the page"
    return match.group(1)


def data_of(city, n: int = 1, **changes) -> dict:
    """form() as the service takes it (typed values)."""
    data = form(city, n, **changes)
    data["region_id"] = int(data["region_id"])
    return data


def upload(content: bytes = b"", name: str = "申报书.pdf") -> FileStorage:
    return FileStorage(BytesIO(content or pdf()), name)


@pytest.fixture
def city_regulator(make_user, city):
    return make_user(Role.REGULATOR, region_id=city.id)


@pytest.fixture
def submitted(city):
    application, token = base_applications.submit(data_of(city), [upload()])
    return application, token


# --- apply -------------------------------------------------------------------------------------------------------

def test_apply_shows_the_link_once_and_keeps_only_its_hash(client, city):
    response = post_apply(client, form(city), files=[(BytesIO(pdf()), "申报书.pdf"), (BytesIO(png()), "执照.png")])
    assert response.status_code == 200
    token = token_of(response)
    application = db.session.scalar(sa.select(BaseApplication))
    assert application.status == ApplicationStatus.SUBMITTED
    assert application.access_hash == base_applications.hash_token(token) and token not in application.access_hash
    assert application.admin_password_hash != APPLICANT_PASSWORD
    assert [f.content_type for f in application.files] == ["application/pdf", "image/png"]
    assert [e.to_status for e in application.events] == [ApplicationStatus.SUBMITTED]
    entry = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == "application.submit"))
    assert entry.details["region_id"] == city.id
    assert "1390000" not in str(entry.details) and "apply1@" not in str(entry.details)  # no contact in the log
    # the follow page opens with the link, and the link is not shown there again
    page = client.get(f"/apply/{token}")
    assert page.status_code == 200 and "待审核" in page.get_data(as_text=True)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"credit_code": code(1)[:17] + ("1" if code(1)[17] != "1" else "2")}, "credit_code", "校验位不对"),
    ({"name": ""}, "name", "请填写申报单位名称"),
    ({"scope": "  "}, "scope", "请填写培训范围"),
    ({"contact_phone": "12345"}, "contact_phone", "11 位手机号"),
    ({"contact_email": "not-an-email"}, "contact_email", "有效的邮箱"),
    ({"password": "short", "confirm": "short"}, "password", "至少 8 位"),
    ({"base_type": "national"}, "base_type", "列出的基地类型"),
    ({"region_id": "999999"}, "region_id", "列出的地区"),
])
def test_bad_input_is_refused_beside_its_field_and_nothing_is_saved(client, city, tmp_path, changes, field, message):
    response = post_apply(client, form(city, **changes))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BaseApplication)) == 0
    assert [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()] == []


def test_a_city_base_cannot_be_applied_for_at_a_province(city):
    with pytest.raises(Invalid) as caught:
        base_applications.submit(data_of(city, region_id=city.parent.id), [upload()])
    assert caught.value.fields == {"region_id": "市级继续教育基地应申报在市（请选择所在的市）"}


def test_missing_attachments_and_several_missing_fields_are_each_named(city):
    with pytest.raises(Invalid) as caught:
        base_applications.submit(data_of(city, teachers="", facilities=""), [])
    assert set(caught.value.fields) == {"teachers", "facilities", "files"}


def test_a_taken_code_name_email_or_phone_is_refused(city, make_user, make_base, submitted):
    make_user(Role.LEARNER, email="taken@test.example", phone="13900009999")
    make_base(name="已有的基地")
    with pytest.raises(Invalid) as caught:
        base_applications.submit(data_of(city, 2, credit_code=code(1)), [upload()])
    assert "已有一份申报正在审核" in caught.value.fields["credit_code"]
    with pytest.raises(Invalid) as caught:
        base_applications.submit(data_of(city, 2, name="成都测试职业培训学院1"), [upload()])
    assert "已有一份申报正在审核" in caught.value.fields["name"]
    with pytest.raises(Invalid) as caught:
        base_applications.submit(data_of(city, 3, name="已有的基地", contact_email="Taken@Test.example",
                                         contact_phone="139 0000 9999"), [upload()])
    assert set(caught.value.fields) == {"name", "contact_email", "contact_phone"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BaseApplication)) == 1


def test_attachments_are_checked_by_content_and_a_refused_one_leaves_no_file(client, city, tmp_path):
    response = post_apply(client, form(city), files=[(BytesIO(pdf()), "好的.pdf"),
                                                     (BytesIO(b"MZ\x90\x00 not a pdf"), "假的.pdf")])
    assert response.status_code == 400
    assert "只接受 PDF、JPEG 或 PNG" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BaseApplicationFile)) == 0
    assert [p for p in (tmp_path / "evidence").rglob("*") if p.is_file()] == []  # the first one was removed


def test_too_large_an_attachment_is_refused(app, city):
    app.config["EVIDENCE_MAX_BYTES"] = 100
    with pytest.raises(evidence_files.EvidenceRejected, match="不能超过"):
        base_applications.submit(data_of(city), [upload(pdf() + b"x" * 200)])


# --- follow and withdraw ----------------------------------------------------------------------------------------

def test_a_wrong_token_is_404(client, submitted):
    _application, token = submitted
    assert client.get("/apply/" + "x" * 43).status_code == 404
    near = token[:-1] + ("B" if token.endswith("A") else "A")  # one character off
    assert client.get(f"/apply/{near}").status_code == 404
    assert client.post("/apply/" + "x" * 43 + "/withdraw").status_code == 404
    assert client.get("/apply/" + "x" * 43 + f"/files/{_application.files[0].id}").status_code == 404


def test_the_applicant_downloads_their_files_by_the_link_only(client, submitted, city):
    application, token = submitted
    other, other_token = base_applications.submit(data_of(city, 2), [upload(png(), "执照.png")])
    response = client.get(f"/apply/{token}/files/{application.files[0].id}")
    assert response.status_code == 200 and response.data == pdf()
    assert response.headers["Content-Security-Policy"].startswith("sandbox")
    assert client.get(f"/apply/{token}/files/{other.files[0].id}").status_code == 404


def test_withdraw_while_submitted_then_never_again(client, submitted):
    application, token = submitted
    response = client.post(f"/apply/{token}/withdraw", data={"note": "材料需补充"})
    assert response.status_code == 302
    db.session.expire_all()
    application = db.session.get(BaseApplication, application.id)
    assert application.status == ApplicationStatus.WITHDRAWN
    assert [(e.to_status, e.note) for e in application.events] == [
        (ApplicationStatus.SUBMITTED, ""), (ApplicationStatus.WITHDRAWN, "材料需补充")]
    with pytest.raises(InvalidTransition):
        base_applications.withdraw(token)
    page = client.get(f"/apply/{token}").get_data(as_text=True)
    assert "已撤回" in page and "材料需补充" in page and 'action="/apply/' not in page


# --- the regulator -----------------------------------------------------------------------------------------------

def test_approve_creates_the_base_and_its_admin_who_signs_in_and_manages_it(client, submitted, city_regulator):
    application, token = submitted
    login(client, city_regulator)
    assert client.get("/regulator/applications").status_code == 200
    page = client.get(f"/regulator/applications/{application.id}").get_data(as_text=True)
    assert application.name in page and "13900000001" in page  # the regulator may call the applicant
    response = client.post(f"/regulator/applications/{application.id}",
                           data={"decision": "approve", "checklist": ALL_MET, "reason": "符合条件"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    application = db.session.get(BaseApplication, application.id)
    base = application.base
    assert application.status == ApplicationStatus.APPROVED and base is not None
    assert (base.name, base.type, base.region_id) == (application.name, BaseType.CITY, application.region_id)
    assert (base.scope, base.staff, base.rules) == (application.scope, application.teachers,
                                                   application.management_rules)
    assert (base.contact_person, base.contact_phone) == ("王老师", "")  # the admin's sign-in is not published
    assert "13900000001" not in client.get(f"/bases/{base.id}").get_data(as_text=True)
    admin = db.session.scalar(sa.select(User).where(User.email == "apply1@test.example"))
    assert admin.role == Role.BASE_ADMIN and admin.phone == "13900000001"
    assert db.session.scalar(sa.select(BaseMembership).where(BaseMembership.user_id == admin.id)).base_id == base.id
    change = db.session.scalar(sa.select(BaseStatusChange).where(BaseStatusChange.base_id == base.id))
    assert change.actor_id == city_regulator.id and change.from_status is None
    assert application.events[-1].to_status == ApplicationStatus.APPROVED
    actions = set(db.session.scalars(sa.select(AuditLog.action)))
    assert {"application.submit", "application.approve", "base.designate"} <= actions
    assert all("13900000001" not in str(d) for d in db.session.scalars(sa.select(AuditLog.details)))
    # the applicant's page says so, and the new admin signs in with the password they chose
    assert "已批准" in client.get(f"/apply/{token}").get_data(as_text=True)
    client = client.application.test_client()
    signed_in = client.post("/login", data={"login": "13900000001", "password": APPLICANT_PASSWORD})
    assert signed_in.status_code == 302
    assert client.get(f"/manage/bases/{base.id}").status_code == 200
    edited = client.post(f"/manage/bases/{base.id}/disclosure", data={
        "scope": "新的培训范围", "content": "内容", "fee_items": "免费", "training_plan": "计划", "staff": "师资",
        "rules": "制度", "contact_phone": "028-61234567", "contact_person": "王老师", "website": "", "address": "地址"})
    assert edited.status_code == 302
    db.session.expire_all()
    assert db.session.get(TrainingBase, base.id).scope == "新的培训范围"


def test_approve_needs_every_checklist_item_and_saves_nothing_otherwise(submitted, city_regulator):
    application, _token = submitted
    with pytest.raises(Invalid, match="尚未满足") as caught:
        base_applications.approve(city_regulator, application.id, "", ALL_MET[:-1])
    assert caught.value.field == "checklist"
    db.session.expire_all()
    assert db.session.get(BaseApplication, application.id).status == ApplicationStatus.SUBMITTED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingBase)) == 0


def test_an_email_taken_meanwhile_refuses_approval_with_nothing_saved(client, submitted, city_regulator, make_user):
    application, _token = submitted
    make_user(Role.LEARNER, email="apply1@test.example")
    login(client, city_regulator)
    response = client.post(f"/regulator/applications/{application.id}",
                           data={"decision": "approve", "checklist": ALL_MET})
    assert response.status_code == 400
    assert "该邮箱已是本站的账号" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(BaseApplication, application.id).status == ApplicationStatus.SUBMITTED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(TrainingBase)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.role == Role.BASE_ADMIN)) == 0


def test_reject_needs_a_reason_which_the_applicant_then_reads(client, submitted, city_regulator):
    application, token = submitted
    login(client, city_regulator)
    refused = client.post(f"/regulator/applications/{application.id}", data={"decision": "reject", "reason": " "})
    assert refused.status_code == 400 and "驳回申报须填写理由" in refused.get_data(as_text=True)
    response = client.post(f"/regulator/applications/{application.id}",
                           data={"decision": "reject", "reason": "师资不足", "checklist": ["scope"]})
    assert response.status_code == 302
    db.session.expire_all()
    application = db.session.get(BaseApplication, application.id)
    assert application.status == ApplicationStatus.REJECTED and application.decision_reason == "师资不足"
    assert application.checklist["scope"] is True and application.checklist["teachers"] is False
    assert "师资不足" in client.get(f"/apply/{token}").get_data(as_text=True)
    with pytest.raises(InvalidTransition):
        base_applications.approve(city_regulator, application.id, "", ALL_MET)


def test_the_checklist_is_saved_without_a_decision(submitted, city_regulator):
    application, _token = submitted
    base_applications.save_checklist(city_regulator, application.id, ["scope", "teachers", "nonsense"])
    db.session.expire_all()
    saved = db.session.get(BaseApplication, application.id).checklist
    assert [k for k, v in saved.items() if v] == ["scope", "teachers"] and "nonsense" not in saved


def test_another_region_s_regulator_gets_404(client, submitted, make_user, other_city):
    application, _token = submitted
    other = make_user(Role.REGULATOR, region_id=other_city.id)
    login(client, other)
    assert client.get(f"/regulator/applications/{application.id}").status_code == 404
    assert client.post(f"/regulator/applications/{application.id}",
                       data={"decision": "approve", "checklist": ALL_MET}).status_code == 404
    assert client.get(f"/regulator/applications/{application.id}/files/{application.files[0].id}").status_code == 404
    assert application.name not in client.get("/regulator/applications").get_data(as_text=True)
    with pytest.raises(LookupError):
        base_applications.approve(other, application.id, "", ALL_MET)
    db.session.expire_all()
    assert db.session.get(BaseApplication, application.id).status == ApplicationStatus.SUBMITTED


def test_a_province_level_type_is_the_province_s_to_decide(client, city, make_user):
    city_reg = make_user(Role.REGULATOR, region_id=city.id)
    province_reg = make_user(Role.REGULATOR, region_id=city.parent.id)
    application, _token = base_applications.submit(data_of(city, base_type="provincial"), [upload()])
    login(client, city_reg)
    assert client.get(f"/regulator/applications/{application.id}").status_code == 404
    client = client.application.test_client()
    login(client, province_reg)
    assert client.get(f"/regulator/applications/{application.id}").status_code == 200
    base = base_applications.approve(province_reg, application.id, "", ALL_MET)
    assert base.type == BaseType.PROVINCIAL and base.region_id == city.id


def test_the_regulator_downloads_an_attachment(client, submitted, city_regulator):
    application, _token = submitted
    login(client, city_regulator)
    response = client.get(f"/regulator/applications/{application.id}/files/{application.files[0].id}")
    assert response.status_code == 200 and response.data == pdf()
    assert "no-store" in response.headers["Cache-Control"]


def test_the_list_shows_submitted_first(city, city_regulator):
    first, _ = base_applications.submit(data_of(city, 1), [upload()])
    second, _ = base_applications.submit(data_of(city, 2), [upload()])
    third, _ = base_applications.submit(data_of(city, 3), [upload()])
    base_applications.reject(city_regulator, first.id, "不符合")
    assert [a.id for a in base_applications.decidable_by(city_regulator)] == [second.id, third.id, first.id]


# --- the rule and its SQL twin -----------------------------------------------------------------------------------

def test_decidable_applications_agrees_with_may_decide_application(city, other_city, make_user):
    users = [make_user(Role.REGULATOR, region_id=city.id), make_user(Role.REGULATOR, region_id=other_city.id),
             make_user(Role.REGULATOR, region_id=city.parent.id), make_user(Role.BASE_ADMIN)]
    for n, (region, kind) in enumerate([(city, "city"), (city, "provincial"), (other_city, "city"),
                                        (city.parent, "rural_revitalization")], start=1):
        base_applications.submit(data_of(city, n, region_id=region.id, base_type=kind), [upload()])
    rows = db.session.scalars(sa.select(BaseApplication)).all()
    for user in users:
        allowed = {a.id for a in rows if policies.may_decide_application(user, a)}
        twin = set(db.session.scalars(sa.select(BaseApplication.id)
                                      .where(policies.decidable_applications(user))))
        assert twin == allowed, user
    assert len({a.id for a in rows if policies.may_decide_application(users[2], a)}) == 4  # the province: all


# --- page reads ------------------------------------------------------------------------------------------------

def test_pages_read_in_a_fixed_number_of_queries(client, city, city_regulator):
    city_id, regulator_id = city.id, city_regulator.id
    tokens = []
    for n in range(1, 3):
        _application, token = base_applications.submit(data_of(city, n), [upload(), upload(png(), "a.png")])
        tokens.append(token)
    login(client, city_regulator)
    few = len(page_queries(client, "/regulator/applications"))
    first_id = db.session.scalar(sa.select(BaseApplication.id).order_by(BaseApplication.id))
    detail_few = len(page_queries(client, f"/regulator/applications/{first_id}"))
    anonymous = client.application.test_client()
    follow_few = len(page_queries(anonymous, f"/apply/{tokens[0]}"))
    for n in range(3, 7):
        data = {**form(city_id, n), "region_id": city_id}
        _application, token = base_applications.submit(data, [upload(), upload(png(), "b.png")])
    base_applications.withdraw(token, "再议")
    regulator = db.session.get(User, regulator_id)
    base_applications.save_checklist(regulator, first_id, ["scope"])
    base_applications.reject(regulator, first_id, "不符合", ["scope"])
    assert len(page_queries(client, "/regulator/applications")) == few
    assert len(page_queries(client, f"/regulator/applications/{first_id}")) == detail_few
    assert len(page_queries(anonymous, f"/apply/{token}")) == follow_few
    # the list is one query, beside the signed-in user's load and their region's (a province or a city?)
    assert few == 3


def test_events_are_only_added(submitted, city_regulator):
    application, token = submitted
    base_applications.reject(city_regulator, application.id, "材料不全")
    events = db.session.scalars(sa.select(BaseApplicationEvent).order_by(BaseApplicationEvent.id)).all()
    assert [(e.to_status, e.actor_id) for e in events] == [(ApplicationStatus.SUBMITTED, None),
                                                          (ApplicationStatus.REJECTED, city_regulator.id)]


def test_the_apply_page_offers_every_region_and_type(client, city, other_city):
    body = client.get("/apply/").get_data(as_text=True)
    assert city.name in body and other_city.name in body and "市级继续教育基地" in body
    assert PASSWORD not in body


def test_the_region_s_regulators_read_an_application_s_entries_in_the_audit_log(client, submitted, city_regulator,
                                                                                  make_user, other_city):
    _application, token = submitted
    base_applications.withdraw(token)
    login(client, city_regulator)
    log = client.get("/regulator/audit").get_data(as_text=True)
    assert "application.submit" in log and "application.withdraw" in log
    outsider = client.application.test_client()
    login(outsider, make_user(Role.REGULATOR, region_id=other_city.id))
    assert "application.submit" not in outsider.get("/regulator/audit").get_data(as_text=True)
