"""Personal data (issue 7, item 5): a full ID number appears only where it is deliberately revealed, each
reveal is audited, and a learner can download everything held about them."""

import io
import json
import logging
import re
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Role
from services import enrollment
from services.infra import backup
from tests.conftest import login
from tests.test_declarations import app_config, declare, on, regions, signed_in, world  # noqa: F401 - fixtures
from tests.test_roster import make_learner  # noqa: F401 - a fixture

ID_PATTERN = re.compile(r"\d{17}[\dX]")


def reveals() -> list[AuditLog]:
    return db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "identity.reveal")).all()


@pytest.fixture
def seated(make_learner, admin_and_base, make_course):  # noqa: F811 - the imported fixture
    """A base admin's course with two learners on its roster; the first learner's full number."""
    admin, base = admin_and_base
    course = make_course(base)
    number = "510104199001011238"
    first, second = make_learner(id_number=number), make_learner()
    held = [enrollment.enroll(learner, course.id).enrollment.id for learner in (first, second)]
    return admin, course, first, held, number


def test_the_roster_masks_and_a_reveal_shows_the_full_number_once_audited(app, seated):
    admin, course, learner, held, number = seated
    client = app.test_client()
    login(client, admin)
    roster = client.get(f"/manage/bases/{course.base_id}/courses/{course.id}/roster").text
    assert number not in roster and "5101**********1238" in roster
    assert reveals() == []

    response = client.post(f"/manage/bases/{course.base_id}/courses/{course.id}/roster/{held[0]}/id-number")
    assert response.status_code == 200 and number in response.text
    assert response.headers["Cache-Control"] == "no-store"
    entry, = reveals()
    assert (entry.actor_id, entry.object_type, entry.object_id, entry.base_id) == \
        (admin.id, "user", learner.id, course.base_id)


def test_another_base_or_another_course_cannot_reveal(app, seated, make_user, make_base, make_course):
    _admin, course, _learner, held, number = seated
    other_admin = make_user(Role.BASE_ADMIN)
    other_course = make_course(make_base(admin=other_admin))
    client = app.test_client()
    login(client, other_admin)
    for path in (f"/manage/bases/{course.base_id}/courses/{course.id}/roster/{held[0]}/id-number",
                 f"/manage/bases/{other_course.base_id}/courses/{other_course.id}/roster/{held[0]}/id-number"):
        response = client.post(path)
        assert response.status_code == 404 and number not in response.text
    learner_client = app.test_client()
    login(learner_client, _learner)
    assert learner_client.post(
        f"/manage/bases/{course.base_id}/courses/{course.id}/roster/{held[0]}/id-number").status_code in (403, 404)
    assert reveals() == []


def test_the_reviewer_of_a_declaration_may_reveal_the_declarants_number_and_no_other(app, world):  # noqa: F811
    declaration = declare(world.learner, minutes=180)
    page = signed_in(app, world.reviewer).get(f"/review/{declaration.id}").text
    assert "查看完整" in page
    response = signed_in(app, world.reviewer).post(f"/review/{declaration.id}/id-number")
    assert response.status_code == 200
    assert ID_PATTERN.search(response.text).group(0)[-4:] == world.learner.id_number_masked[-4:]
    other = signed_in(app, world.clinic_reviewer).post(f"/review/{declaration.id}/id-number")
    assert other.status_code == 404 and not ID_PATTERN.search(other.text)
    entry, = reveals()
    assert entry.actor_id == world.reviewer.id and entry.object_id == world.learner.id


def test_a_learner_downloads_everything_held_about_them_and_only_that(app, seated, make_course):
    _admin, course, learner, _held, number = seated
    client = app.test_client()
    login(client, learner)
    response = client.get("/me/data.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    assert data["profile"]["id_number"] == number and data["profile"]["name"] == learner.name
    assert [e["course"] for e in data["enrollments"]] == [course.title]
    assert data["enrollments"][0]["status"] == "confirmed"
    other_numbers = {m for m in ID_PATTERN.findall(response.text)} - {number}
    assert other_numbers == set()
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "learner.export_own_data", AuditLog.actor_id == learner.id)) == 1


def test_no_full_number_in_the_database_logs_exports_or_backups(app, client, city, seated, caplog, tmp_path):
    """Register through the form with logging at DEBUG, export the roster, back the database up, then search
    the database dump, the logs, the export and the backup file for any full ID number: none is there."""
    caplog.set_level(logging.DEBUG)
    admin, course, _learner, _held, number = seated
    registered = "51010419850615" + "123"
    from services import resident_ids

    registered += resident_ids.check_character(registered)
    response = client.post("/register", data={
        "name": "赵敏", "phone": "13712345678", "email": "zhaomin@example.com", "password": "correct horse 42",
        "confirm": "correct horse 42", "id_number": registered, "region": str(city.id),
        "employer_name": "成都市第二人民医院", "sector": "卫生", "professional_title": "中级",
        "consent": "y"})
    assert response.status_code == 302
    secrets = {number, registered}

    admin_client = app.test_client()
    login(admin_client, admin)
    export = admin_client.get(f"/manage/bases/{course.base_id}/courses/{course.id}/roster.xlsx")
    assert export.status_code == 200
    cells = " ".join(str(c) for row in openpyxl.load_workbook(io.BytesIO(export.data)).active.iter_rows(
        values_only=True) for c in row if c is not None)

    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    dump = "\n".join(raw.iterdump())
    assert "5101**********1238" in dump  # the masked form is there, so the dump did read the users
    copy = tmp_path / "backup.sqlite3"
    backup.backup_sqlite(Path(db.engine.url.database), copy)
    backed_up = copy.read_bytes().decode("latin-1")
    assert "5101**********1238" in backed_up
    for where, text in (("database", dump), ("logs", caplog.text), ("roster export", cells),
                        ("backup file", backed_up)):
        found = set(ID_PATTERN.findall(text)) & secrets
        assert not found, f"full ID number in the {where}"
