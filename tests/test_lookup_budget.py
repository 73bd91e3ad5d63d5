"""Certificate lookups (issue 13, finding 9): the site's verification page and the API's certificate operation
spend one budget per client address, shared by every worker through Redis when it is configured."""

import secrets
import time

import pytest
import redis

from app import create_app
from extensions import db, limiter

# Redis database 13 belongs to these tests; they never flush it: each run counts under an address of its own.
REDIS_URL = "redis://127.0.0.1:6379/13"
BUDGET = {"VERIFY_RATE_LIMIT": "30 per minute"}
UNKNOWN = "ABCDEFGHJKMN"  # no such certificate: a 404, still a lookup


def fresh_window() -> None:
    """Wait for a new minute if this one is about to end (the limit's windows are whole minutes)."""
    left = 60 - time.time() % 60
    if left < 10:
        time.sleep(left + 0.2)


def an_address() -> str:
    return f"10.13.{secrets.randbelow(250)}.{secrets.randbelow(250)}"


def on_site(client, address: str, n: int) -> list[int]:
    return [client.get(f"/verify/{UNKNOWN}", environ_base={"REMOTE_ADDR": address}).status_code for _ in range(n)]


def on_api(client, address: str, n: int) -> list[int]:
    return [client.get(f"/api/v1/certificates/{UNKNOWN}", environ_base={"REMOTE_ADDR": address}).status_code
            for _ in range(n)]


def assert_refused_on_both(site, api, address: str) -> None:
    page = site.get(f"/verify/{UNKNOWN}", environ_base={"REMOTE_ADDR": address})
    assert page.status_code == 429 and "查询过于频繁" in page.text
    problem = api.get(f"/api/v1/certificates/{UNKNOWN}", environ_base={"REMOTE_ADDR": address})
    assert problem.status_code == 429
    assert problem.mimetype == "application/problem+json" and problem.get_json()["status"] == 429
    assert 1 <= int(problem.headers["Retry-After"]) <= 60


@pytest.mark.parametrize("app_config", [BUDGET])
@pytest.mark.parametrize("refused_on", ["site", "api"])
def test_twenty_on_the_site_and_eleven_on_the_api_the_31st_is_refused(app, api, refused_on):
    fresh_window()
    address = an_address()
    assert on_site(api, address, 20) == [404] * 20
    assert on_api(api, address, 10) == [404] * 10
    thirty_first = on_site(api, address, 1) if refused_on == "site" else on_api(api, address, 1)
    assert thirty_first == [429]
    assert_refused_on_both(api, api, address)


@pytest.mark.parametrize("app_config", [BUDGET])
def test_lookups_on_the_api_first_count_on_the_site(app, api):
    fresh_window()
    address = an_address()
    assert on_api(api, address, 11) == [404] * 11
    assert on_site(api, address, 19) == [404] * 19
    assert_refused_on_both(api, api, address)


@pytest.mark.parametrize("app_config", [BUDGET])
def test_the_shared_budget_is_per_address_and_leaves_the_rest_of_the_api_alone(app, api):
    fresh_window()
    address = an_address()
    on_api(api, address, 30)
    assert on_api(api, address, 1) == [429]
    assert api.get("/api/v1/courses", environ_base={"REMOTE_ADDR": address}).status_code == 200
    assert on_api(api, an_address(), 1) == [404]
    assert api.get("/verify", environ_base={"REMOTE_ADDR": address}).status_code == 200  # the empty form


@pytest.mark.parametrize("app_config", [{"API_RATE_LIMIT_PER_ADDRESS": "5 per minute"}])
def test_the_api_limit_still_applies_to_certificate_lookups(app, api):
    fresh_window()
    address = an_address()
    assert on_api(api, address, 6) == [404] * 5 + [429]


@pytest.mark.parametrize("app_config", [{**BUDGET, "REDIS_URL": REDIS_URL}])
def test_two_workers_share_the_budget_through_redis(app, tmp_path):
    """Two apps stand for two gunicorn workers: the site's lookups on one count against the API's on the other."""
    assert redis.Redis.from_url(REDIS_URL).ping()
    db.session.commit()
    fresh_window()
    address = an_address()
    assert on_site(app.test_client(), address, 20) == [404] * 20
    other_worker = create_app({**app.config, "RATELIMIT_STORAGE_URI": REDIS_URL})
    with other_worker.app_context():
        assert type(limiter.storage).__name__ == "RedisStorage"
        other = other_worker.test_client()
        assert on_api(other, address, 11) == [404] * 10 + [429]
