"""Where signing in lands each role: its own area's home (blueprints.auth.routes.AREA_HOMES). A sector officer
used to land on the catalog's front page, with nothing there to review (found by the browser journey of issue
17, tests/test_browser_organisations.py)."""

from extensions import db
from models import Role, SectorAuthority
from tests.conftest import login


def test_a_sector_officer_lands_on_the_sector_queue(client, city, make_user):
    authority = SectorAuthority(region_id=city.id, sector="卫生", name="测试市卫生健康委员会")
    db.session.add(authority)
    db.session.commit()
    officer = make_user(Role.SECTOR_OFFICER, sector_authority_id=authority.id)
    response = login(client, officer)
    assert response.status_code == 302
    assert response.headers["Location"] == "/sector/"


def test_the_other_roles_keep_their_homes(client, make_user):
    for role, home in ((Role.LEARNER, "/me/"), (Role.REGULATOR, "/regulator/"), (Role.REVIEWER, "/review/")):
        user = make_user(role)
        with client.session_transaction() as session:
            session.clear()
        response = login(client, user)
        assert (role, response.headers["Location"]) == (role, home)
