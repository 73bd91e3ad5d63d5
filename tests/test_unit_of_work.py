"""One unit of work per use case: locked() refuses a session holding changes instead of committing them, a
course edit and the waitlist it moves up are one transaction, and a rollback runs the hooks that remove
what was written beside the database (an image's files)."""

from io import BytesIO
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from extensions import db
from models import AuditLog, Course, CourseStatus, Enrollment, EnrollmentStatus, Image, Notice, User
from services import accounts, enrollment, resident_ids
from services import courses as course_service
from services.errors import DomainError
from services.infra import images
from services.infra.locking import exclusive, locked
from services.infra.transaction import PendingChanges, end_reads, on_rollback, unit_of_work
from tests.conftest import PASSWORD

CONFIRMED, WAITLISTED = EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED


def png() -> BytesIO:
    out = BytesIO()
    PILImage.new("RGB", (400, 300), (0, 128, 255)).save(out, "PNG")
    out.seek(0)
    return out


def stored_files(app) -> list[Path]:
    return [p for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*") if p.is_file()]


def title_in_database(course_id: int) -> str:
    return db.session.execute(sa.select(Course.title).where(Course.id == course_id)).scalar_one()


class counting:
    """Within the block, ``.events`` lists each transaction begun, committed and rolled back on the app's
    engine, in order."""

    EVENTS = ("begin", "commit", "rollback")

    def __enter__(self):
        self.events = []
        self._listeners = {name: (lambda _conn, name=name: self.events.append(name)) for name in self.EVENTS}
        for name, listener in self._listeners.items():
            sa.event.listen(db.engine, name, listener)
        return self

    def __exit__(self, *exc):
        for name, listener in self._listeners.items():
            sa.event.remove(db.engine, name, listener)


# --- locked() and end_reads() ------------------------------------------------------------------------------

def _change_unflushed(course):
    course.title = "改了没提交"


def _change_flushed(course):
    course.title = "改了没提交"
    db.session.flush()


def _change_by_statement(course):
    db.session.execute(sa.update(Course).where(Course.id == course.id).values(title="改了没提交")
                       .execution_options(synchronize_session=False))


def _add_a_row(_course):
    someone = db.session.scalar(sa.select(User.id).limit(1))
    db.session.add(Notice(user_id=someone, message="未提交的通知"))


@pytest.mark.parametrize("pending", [_change_unflushed, _change_flushed, _change_by_statement, _add_a_row],
                         ids=["changed", "flushed", "statement", "added"])
def test_locked_refuses_a_session_holding_changes_and_commits_none_of_them(app, admin_and_base, make_course,
                                                                          pending):
    course = make_course(admin_and_base[1], title="原来的标题")
    pending(course)
    with pytest.raises(PendingChanges), locked(Course, course.id):
        pytest.fail("the block must not run")  # pragma: no cover
    db.session.rollback()
    assert title_in_database(course.id) == "原来的标题"
    assert db.session.scalar(sa.select(sa.func.count(Notice.id))) == 0


def test_exclusive_refuses_a_session_holding_changes_too(app, admin_and_base, make_course):
    course = make_course(admin_and_base[1], title="原来的标题")
    course.title = "改了没提交"
    with pytest.raises(PendingChanges), exclusive("calendar"):
        pytest.fail("the block must not run")  # pragma: no cover
    db.session.rollback()
    assert title_in_database(course.id) == "原来的标题"


def test_locked_ends_a_transaction_that_only_read_and_yields_the_row_fresh(app, admin_and_base, make_course):
    course = make_course(admin_and_base[1], title="原来的标题")
    assert db.session.get(Course, course.id).title == "原来的标题"  # a read: the transaction is open
    course.title = "原来的标题"  # set to what it was: no change, though the session counts it as dirty
    db.session.flush()
    with db.engine.begin() as other:  # another writer, committed after our read
        other.execute(sa.update(Course).where(Course.id == course.id).values(title="别人改的"))
    with locked(Course, course.id) as row:
        assert row.title == "别人改的"
        row.title = "锁内改的"
    assert title_in_database(course.id) == "锁内改的"


def test_end_reads_rolls_back_a_read_only_transaction(app, admin_and_base):
    admin, _base = admin_and_base
    db.session.get(User, admin.id)
    assert db.session().in_transaction()
    end_reads()
    assert not db.session().in_transaction()


# --- a course edit and its waitlist: one transaction --------------------------------------------------------

@pytest.fixture
def full_course(admin_and_base, make_course, make_user):
    """A course of one seat, held, and two learners waiting for another."""
    course = make_course(admin_and_base[1], capacity=1)
    holder, first, second = (make_user() for _ in range(3))
    enrollment.enroll(holder, course.id)
    waiting = [enrollment.enroll(learner, course.id).enrollment.id for learner in (first, second)]
    return course, waiting


def statuses(ids: list[int]) -> list[EnrollmentStatus]:
    return [db.session.scalar(sa.select(Enrollment.status).where(Enrollment.id == i)) for i in ids]


def edit_on_the_site(admin, course, capacity):
    return course_service.update_course(admin, course, {"capacity": capacity})


def edit_through_the_api(admin, course, capacity):
    return course_service.update_course(admin, course, {"capacity": capacity}, via_token="jidi_abcd")


@pytest.mark.parametrize("edit", [edit_on_the_site, edit_through_the_api])
def test_a_larger_capacity_and_the_learners_it_seats_commit_as_one_transaction(app, admin_and_base, full_course,
                                                                               edit):
    course, waiting = full_course
    course = db.session.get(Course, course.id)
    db.session.commit()
    with counting() as seen:
        edit(admin_and_base[0], course, 2)
    # The view's reads (the course's base and admins), ended with nothing to keep; then the edit's one write.
    assert seen.events == ["begin", "rollback", "begin", "commit"]
    assert statuses(waiting) == [CONFIRMED, WAITLISTED]
    assert db.session.get(Course, course.id).capacity == 2


@pytest.mark.parametrize("edit", [edit_on_the_site, edit_through_the_api])
def test_a_failure_while_the_waitlist_moves_up_rolls_the_edit_back_too(app, admin_and_base, full_course,
                                                                       monkeypatch, edit):
    course, waiting = full_course
    promote = enrollment._promote_waitlisted

    def promote_then_fail(locked_course):
        promote(locked_course)
        raise RuntimeError("the notice could not be written")

    monkeypatch.setattr(enrollment, "_promote_waitlisted", promote_then_fail)
    with pytest.raises(RuntimeError):
        edit(admin_and_base[0], db.session.get(Course, course.id), 2)

    db.session.expire_all()
    assert db.session.get(Course, course.id).capacity == 1
    assert db.session.get(Course, course.id).seats_taken == 1
    assert statuses(waiting) == [WAITLISTED, WAITLISTED]
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(AuditLog.action == "course.update")) == 0


def test_a_failed_edit_with_a_new_cover_removes_its_files(app, admin_and_base, full_course, monkeypatch):
    course, _waiting = full_course

    def fail(_course):
        raise RuntimeError("promotion failed")

    monkeypatch.setattr(enrollment, "_promote_waitlisted", fail)
    with pytest.raises(RuntimeError):
        course_service.update_course(admin_and_base[0], db.session.get(Course, course.id), {"capacity": 2}, png())

    assert stored_files(app) == []
    assert db.session.scalar(sa.select(sa.func.count(Image.id))) == 0
    assert db.session.get(Course, course.id).cover_id is None


def test_an_edit_through_the_api_names_its_token_in_every_entry(app, admin_and_base, make_course):
    course = make_course(admin_and_base[1], status=CourseStatus.DRAFT, capacity=1)
    course_service.update_course(admin_and_base[0], course, {"capacity": 5}, status=CourseStatus.PUBLISHED,
                                 via_token="jidi_abcd")
    entries = db.session.execute(sa.select(AuditLog.action, AuditLog.details).order_by(AuditLog.id)).all()
    assert [(action, details.get("api_token")) for action, details in entries] == [
        ("course.update", "jidi_abcd"), ("course.published", "jidi_abcd")]


# --- rollback hooks ---------------------------------------------------------------------------------------

def test_a_rolled_back_unit_of_work_runs_its_hooks_and_removes_the_image_files(app, make_user):
    admin = make_user()
    ran = []
    with pytest.raises(RuntimeError), unit_of_work():
        on_rollback(lambda: ran.append("hook"))
        images.store_image(png(), admin)
        assert len(stored_files(app)) == 2  # both variants, written before the commit
        raise RuntimeError("the use case failed")
    assert ran == ["hook"]
    assert stored_files(app) == []
    assert db.session.scalar(sa.select(sa.func.count(Image.id))) == 0


def test_a_committed_unit_of_work_keeps_the_files_and_forgets_its_hooks(app, make_user):
    admin = make_user()
    ran = []
    with unit_of_work():
        on_rollback(lambda: ran.append("hook"))
        image = images.store_image(png(), admin)
    db.session.rollback()  # a later rollback is not the committed transaction's
    assert ran == []
    assert len(stored_files(app)) == 2
    assert db.session.get(Image, image.id) is not None


def test_a_rollback_outside_a_unit_of_work_runs_the_hooks_too(app, make_user):
    admin = make_user()
    db.session.get(User, admin.id)
    images.store_image(png(), admin)
    db.session.rollback()
    assert stored_files(app) == []


# --- a refused registration, raced ------------------------------------------------------------------------

class _DuplicateCheckMissing:
    """sqlalchemy as register_learner's duplicate check sees it when another registration commits between
    the check and the insert: the check finds nobody."""

    def __getattr__(self, name):
        return getattr(sa, name)

    @staticmethod
    def or_(*_clauses):
        return sa.false()


def test_a_registration_that_loses_the_race_is_rolled_back_and_audited(app, city, monkeypatch):
    data = {"name": "王芳", "phone": "13800000000", "email": "taken@example.com", "password": PASSWORD,
            "id_number": "11010519491231002X", "region_id": city.id, "employer_name": "四川大学华西医院",
            "sector": "卫生", "professional_title": "副高级", "consent": accounts.PRIVACY_NOTICE_VERSION}
    accounts.register_learner(dict(data))
    monkeypatch.setattr(accounts, "sa", _DuplicateCheckMissing())

    with pytest.raises(DomainError) as refused:
        accounts.register_learner({**data, "email": "other@example.com"})

    assert refused.value.message == accounts.IDENTIFIER_TAKEN
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1
    entry = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "auth.register_refused")).scalar_one()
    assert entry.details["taken"] == ["concurrent"] and entry.details["region_id"] == city.id
    assert entry.details["id_number"] == resident_ids.mask("11010519491231002X")
