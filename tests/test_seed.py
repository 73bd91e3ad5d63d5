"""`flask seed-demo`: the bases of the notices with admins and courses, and re-runs that change nothing."""

import csv
from collections import Counter

import pytest
import sqlalchemy as sa

from extensions import db
from models import BaseApplication, BaseType, Category, Course, Role, TrainingBase, User
from seeding.demo import DATA_DIR, DEMO_PASSWORD
from services import courses as course_service


@pytest.fixture
def seed(runner):
    def run():
        result = runner.invoke(args=["seed-demo"])
        assert result.exit_code == 0, result.output
        assert "演示数据已就绪" in result.output
        db.session.expire_all()
        return result

    return run


def csv_names(city: str) -> list[str]:
    with open(DATA_DIR / "seed-bases.csv", encoding="utf-8") as handle:
        return [row["name"] for row in csv.DictReader(handle) if row["city"] == city]


def bases() -> list[TrainingBase]:
    """The bases of the notices: all but those the demo's approved base applications created."""
    applied = sa.select(BaseApplication.base_id).where(BaseApplication.base_id.is_not(None))
    return db.session.execute(
        sa.select(TrainingBase).where(TrainingBase.id.not_in(applied)).order_by(TrainingBase.id)).scalars().all()


def applied_bases() -> list[TrainingBase]:
    return db.session.execute(sa.select(TrainingBase).join(BaseApplication, BaseApplication.base_id == TrainingBase.id)
                              ).scalars().all()


def table_counts() -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for table in db.metadata.sorted_tables
        }


def test_seed_creates_the_25_bases_of_the_notices(seed):
    seed()

    all_bases = bases()
    assert len(all_bases) == 25
    chengdu = [b for b in all_bases if b.region.name == "成都市"]
    yantai = [b for b in all_bases if b.region.name == "烟台市"]
    assert len(chengdu) == 21 and len(yantai) == 4
    assert sorted(b.name for b in chengdu) == sorted(csv_names("成都市"))
    assert {b.type for b in chengdu} == {BaseType.CITY}
    assert {b.region.parent.name for b in chengdu} == {"四川省"}
    assert Counter(b.type for b in yantai) == {BaseType.PROVINCIAL: 2, BaseType.RURAL_REVITALIZATION: 2}
    assert sorted(b.name for b in yantai) == sorted(csv_names("烟台市"))
    assert {b.region.parent.name for b in yantai} == {"山东省"}
    assert "成都市第一人民医院" in {b.name for b in chengdu}
    assert "鲁东大学" in {b.name for b in yantai}
    # and one base more, approved from an application (seeding.organisations): a new base, no courses yet
    (applied,) = applied_bases()
    assert applied.name == "成都市技师学院继续教育中心" and applied.type == BaseType.CITY
    assert [m.user.role for m in applied.memberships] == [Role.BASE_ADMIN]


def test_every_seeded_base_has_one_admin_and_at_least_three_courses(seed):
    seed()

    per_base = dict(db.session.execute(
        sa.select(Course.base_id, sa.func.count(Course.id)).group_by(Course.base_id)
    ).all())
    for base in bases():
        assert per_base.get(base.id, 0) >= 3, base.name
        assert len(base.memberships) == 1, base.name
        admin = base.memberships[0].user
        assert admin.role == Role.BASE_ADMIN


def test_seeded_courses_span_all_categories_and_several_fields(seed):
    seed()

    categories = set(db.session.scalars(sa.select(Course.category).distinct()))
    fields = set(db.session.scalars(sa.select(Course.field).distinct()))
    assert categories == set(Category)
    assert len(fields) >= 8
    assert {"卫生", "信息", "现代农业"} <= fields
    # Every course is a valid one: dates in order, positive hours, filled search tokens.
    for course in db.session.scalars(sa.select(Course)):
        assert course.end_date >= course.start_date and course.hours > 0 and course.search_tokens, course.title


def test_seeded_base_admin_can_sign_in_and_reach_their_base(seed, client):
    seed()
    base = bases()[0]
    admin = base.memberships[0].user

    response = client.post("/login", data={"login": admin.email, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    response = client.get("/manage/")

    assert response.location == f"/manage/bases/{base.id}"


def test_second_run_adds_nothing(seed):
    seed()
    first = table_counts()

    seed()

    assert table_counts() == first
    assert first["training_base"] == 25 + 1 and first["course"] >= 75  # the notices' and one applied for
    assert first["base_membership"] == 25 + 1


def test_second_run_keeps_edits_made_in_between(seed):
    seed()
    base = db.session.execute(sa.select(TrainingBase).filter_by(name="鲁东大学")).scalar_one()
    admin = base.memberships[0].user
    course = db.session.execute(sa.select(Course).filter_by(base_id=base.id).order_by(Course.id)).scalars().first()
    old_title = course.title
    course_service.update_course(admin, course, {"title": "改过名称的课程", "hours": 12})
    base.scope = "管理员改写的培训范围"
    admin.name = "改过名字的管理员"
    db.session.commit()

    seed()

    course = db.session.get(Course, course.id)
    assert (course.title, course.hours) == ("改过名称的课程", 12)
    assert db.session.get(TrainingBase, base.id).scope == "管理员改写的培训范围"
    assert db.session.get(User, admin.id).name == "改过名字的管理员"
    assert old_title != course.title


def test_second_run_after_a_renamed_course_adds_no_course(seed):
    seed()
    course = db.session.execute(sa.select(Course).order_by(Course.id)).scalars().first()
    demo_title = course.title
    admin = course.base.memberships[0].user
    course_service.update_course(admin, course, {"title": "改过名称的课程"})
    before = table_counts()

    def titled() -> list[int]:
        return db.session.scalars(
            sa.select(Course.id).where(Course.base_id == course.base_id, Course.title == demo_title)).all()

    # The history's courses of other years keep the title (a base runs its public course every year).
    others = titled()
    assert course.id not in others

    seed()

    # The renamed course must not come back, under its demo title, beside the edited one.
    assert titled() == others
    assert table_counts() == before
