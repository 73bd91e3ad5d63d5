"""Issue 18, accounts 1 and 3: registration asks rather than defaults, asks consent to the privacy notice, and
refuses a password that is easy to guess wherever one is set."""

import re

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, User
from models._common import utcnow
from services import accounts, auth, resident_ids
from services.errors import DomainError
from tests.conftest import PASSWORD

ID_NUMBER = "51010419900307123" + resident_ids.check_character("51010419900307123")
PHONE = "13912345678"


def form(city, **overrides) -> dict:
    data = {"name": "陈晓", "phone": PHONE, "email": "chenxiao@example.com", "password": PASSWORD,
            "confirm": PASSWORD, "id_number": ID_NUMBER, "region": str(city.id),
            "employer_name": "成都市第一人民医院", "sector": "卫生", "professional_title": "中级", "consent": "y"}
    data.update(overrides)
    return data


def errors_beside(html: str, name: str) -> list[str]:
    """The error messages rendered after the control named ``name`` and before the next field."""
    start = html.index(f'name="{name}"')
    following = re.search(r'class="form-label"|<button', html[start + 1:])
    segment = html[start: start + 1 + following.start()] if following else html[start:]
    return re.findall(r'class="invalid-feedback[^"]*">(.*?)</div>', segment, re.S)


def registered() -> User | None:
    return db.session.execute(sa.select(User).where(User.phone == PHONE)).scalar_one_or_none()


# --- no silent defaults ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["region", "sector", "professional_title"])
def test_each_choice_that_matters_starts_at_please_choose(client, city, name):
    html = client.get("/register").get_data(as_text=True)
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(1)
    options = re.findall(r"<option([^>]*)>(.*?)</option>", select, re.S)
    assert options[0] == (' selected value=""', "请选择…") or (
        options[0][1] == "请选择…" and 'value=""' in options[0][0]), options[0]
    # nothing else is preselected: the browser would show the first option, which is the empty one
    assert not any("selected" in attributes for attributes, _label in options[1:])


@pytest.mark.parametrize(("name", "message"), [
    ("region", "请选择所在地区"), ("sector", "请选择行业"), ("professional_title", "请选择职称")])
def test_an_unchosen_select_is_refused_beside_it(client, city, name, message):
    response = client.post("/register", data=form(city, **{name: ""}))
    assert response.status_code == 200
    assert errors_beside(response.get_data(as_text=True), name) == [message]
    assert registered() is None


def test_a_chosen_value_is_kept_when_the_form_comes_back(client, city):
    response = client.post("/register", data=form(city, name=""))
    html = response.get_data(as_text=True)
    assert re.search(rf'<option selected value="{city.id}">', html)
    assert '<option selected value="卫生">' in html


# --- consent -----------------------------------------------------------------------------------------------

def test_registration_without_consent_is_refused_beside_the_box(client, city):
    data = form(city)
    del data["consent"]
    response = client.post("/register", data=data)
    assert response.status_code == 200
    assert errors_beside(response.get_data(as_text=True), "consent") == ["请阅读并同意《个人信息处理规则》后再注册"]
    assert registered() is None


def test_the_consent_box_links_to_the_privacy_notice(client, city):
    html = client.get("/register").get_data(as_text=True)
    assert 'href="/privacy"' in html and "同意平台为学时登记处理我的身份证号" in html


def test_consent_is_recorded_with_its_time_in_the_registration_entry(client, city):
    before = utcnow()
    assert client.post("/register", data=form(city)).status_code == 302
    user = registered()
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "auth.register")).scalar_one()
    assert (entry.actor_id, entry.object_id, entry.details) == (user.id, user.id, {"consent": "privacy-v1"})
    assert before <= entry.at <= utcnow()
    # the entry holds no personal data: the ID number, phone and e-mail stay out of the log
    assert PHONE not in str(entry.details) and ID_NUMBER not in str(entry.details)


def test_the_privacy_notice_is_public_and_says_what_is_kept_why_who_how_long(client):
    response = client.get("/privacy")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for words in ("个人信息保护法", "身份证号", "加密", "手机号", "邮箱", "学时", "为什么", "谁能看到", "部分号码",
                  "保存多久", "更正", "注销", "privacy-v1"):
        assert words in html, words


# --- strong passwords ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["12345678", "password1", "qwertyui", PHONE, "chenxiao2024"])
def test_a_guessable_password_is_refused_at_registration_with_the_reason(client, city, password):
    response = client.post("/register", data=form(city, password=password, confirm=password))
    assert response.status_code == 200
    (message,) = errors_beside(response.get_data(as_text=True), "password")
    assert message.startswith("密码太容易被猜到：") and "请换一个更长、更不常见的密码" in message
    assert registered() is None


def test_the_users_own_phone_is_named_as_the_reason(city):
    with pytest.raises(DomainError) as refused:
        auth.check_new_password(PHONE, user_inputs=["陈晓", PHONE])
    assert "包含了您的姓名、手机号或邮箱" in refused.value.message and refused.value.field == "password"


@pytest.mark.parametrize("password", [PASSWORD, "Jidi-demo-2026"])
def test_the_test_and_demo_passwords_are_strong_enough(password):
    auth.check_new_password(password, user_inputs=["陈晓", PHONE, "learner@jidi.demo"])


def test_a_guessable_new_password_is_refused_on_change(app, make_user):
    user = make_user()
    with pytest.raises(DomainError) as refused:
        auth.change_password(user, PASSWORD, "password1")
    assert refused.value.field == "new_password" and "常见" in refused.value.message
    assert user.check_password(PASSWORD)


def test_the_service_refuses_a_guessable_password_for_a_direct_caller(city):
    with pytest.raises(DomainError) as refused:
        accounts.register_learner({
            "consent": accounts.PRIVACY_NOTICE_VERSION,
            "name": "王芳", "phone": "13800000000", "email": "", "password": "qwertyui", "id_number": ID_NUMBER,
            "region_id": city.id, "employer_name": "医院", "sector": "卫生", "professional_title": "中级"})
    assert refused.value.field == "password"
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.phone == "13800000000")) == 0
