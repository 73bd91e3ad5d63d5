"""Long work as jobs (services.background): a province's evaluation and a province's official tables are asked
for on a page, run by the queue, followed on a job page by whoever asked (404 for anyone else); a failing job
is retried then recorded failed with its reason; a rerun of a done job does nothing; files go after 7 days."""

import json
import os
import re
import time
from datetime import timedelta
from io import BytesIO

import openpyxl
import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, Evaluation, JobRecord, JobStatus, Role
from models._common import utcnow
from services import background, evaluation, jobs
from services.infra import clock
from services.infra.queue import huey, run_queued
from tests.conftest import login

YEAR = clock.today().year - 1
REFRESH = '<meta http-equiv="refresh" content="3">'


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def job_path(response) -> str:
    assert response.status_code == 302, response.status_code
    path = response.headers["Location"]
    assert re.fullmatch(r"/regulator/jobs/\d+", path), path
    return path


def the_job() -> JobRecord:
    db.session.expire_all()
    return db.session.scalars(sa.select(JobRecord)).one()


@pytest.fixture
def province_regulator(make_user, make_base, city):
    make_base(name="成都大学继续教育学院", admin=make_user(Role.BASE_ADMIN))
    return make_user(Role.REGULATOR, region_id=city.parent_id, name="四川省人社厅 赵处长")


def ask_province_evaluation(client, regulator):
    return client.post("/regulator/evaluations", data={"year": str(YEAR), "region": str(regulator.region_id)})


# --- a province's evaluation ---------------------------------------------------------------------------------

def test_a_provinces_evaluation_is_queued_then_run_and_its_page_links_to_the_result(app, province_regulator):
    client = signed_in(app, province_regulator)

    path = job_path(ask_province_evaluation(client, province_regulator))

    job = the_job()
    assert (job.status, job.name, job.requested_by_id) == (JobStatus.QUEUED, "evaluation.run", province_regulator.id)
    assert json.loads(job.params) == {"year": YEAR, "region_id": province_regulator.region_id,
                                      "title": f"{YEAR}年度基地评估（四川省）"}
    assert db.session.scalar(sa.select(sa.func.count(Evaluation.id))) == 0  # nothing done in the request
    waiting = client.get(path).get_data(as_text=True)
    assert "排队中" in waiting and REFRESH in waiting

    assert run_queued() == 1

    job = the_job()
    made = db.session.scalars(sa.select(Evaluation)).one()
    assert (job.status, job.attempts, json.loads(job.result)) == (JobStatus.DONE, 1, {"evaluation_id": made.id})
    assert made.region_id == province_regulator.region_id and made.year == YEAR
    page = client.get(path).get_data(as_text=True)
    assert "已完成" in page and REFRESH not in page
    assert f'href="/regulator/evaluations/{made.id}"' in page
    assert client.get(f"/regulator/evaluations/{made.id}").status_code == 200
    assert f'href="{path}"' in client.get("/regulator/").get_data(as_text=True)  # listed on the overview


def test_a_citys_evaluation_still_runs_at_once(app, regulators, city):
    client = signed_in(app, regulators["city"])

    response = client.post("/regulator/evaluations", data={"year": str(YEAR), "region": str(city.id)})

    made = db.session.scalars(sa.select(Evaluation)).one()
    assert response.headers["Location"] == f"/regulator/evaluations/{made.id}"
    assert db.session.scalar(sa.select(sa.func.count(JobRecord.id))) == 0
    assert huey.pending_count() == 0


def test_a_province_evaluation_of_a_year_not_begun_is_refused_without_a_job(app, province_regulator):
    client = signed_in(app, province_regulator)

    response = client.post("/regulator/evaluations", data={"year": str(YEAR + 2),
                                                           "region": str(province_regulator.region_id)})

    assert response.headers["Location"] == "/regulator/"
    assert db.session.scalar(sa.select(sa.func.count(JobRecord.id))) == 0


def test_a_failing_job_is_retried_then_recorded_failed_with_its_reason(app, province_regulator, monkeypatch):
    calls = []

    def broken(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("统计库连接中断")

    monkeypatch.setattr(evaluation, "run", broken)
    client = signed_in(app, province_regulator)
    path = job_path(ask_province_evaluation(client, province_regulator))

    run_queued(limit=1)  # the first attempt
    job = the_job()
    assert (job.status, job.attempts) == (JobStatus.QUEUED, 1)
    retrying = client.get(path).get_data(as_text=True)
    assert "稍后将自动重试" in retrying and "统计库连接中断" in retrying and REFRESH in retrying

    run_queued()  # the two retries (their delay is skipped)

    job = the_job()
    assert len(calls) == 3
    assert (job.status, job.attempts, job.result) == (JobStatus.FAILED, 3, "")
    assert job.error == "RuntimeError: 统计库连接中断" and job.finished_at is not None
    page = client.get(path).get_data(as_text=True)
    assert "失败" in page and "统计库连接中断" in page and REFRESH not in page
    # Recorded once, on the job itself: the queue's record of failures does not add a second row.
    assert db.session.scalar(sa.select(sa.func.count(JobRecord.id))) == 1


def test_a_rerun_of_a_done_job_does_nothing(app, province_regulator, monkeypatch):
    client = signed_in(app, province_regulator)
    job_path(ask_province_evaluation(client, province_regulator))
    run_queued()
    done = the_job()
    finished_at, result = done.finished_at, done.result
    calls = []
    monkeypatch.setattr(evaluation, "run", lambda *args: calls.append(args))

    huey.enqueue(jobs.background_job.s(done.id))  # the same task again, as a redelivery would
    assert run_queued() == 1

    again = the_job()
    assert calls == []
    assert (again.status, again.attempts, again.finished_at, again.result) == (JobStatus.DONE, 1, finished_at, result)


def test_the_jobs_params_and_page_of_another_regulator_are_404(app, province_regulator, regulators):
    path = job_path(ask_province_evaluation(signed_in(app, province_regulator), province_regulator))
    run_queued()

    for other in (regulators["city"], regulators["province"], regulators["other"]):
        assert signed_in(app, other).get(path).status_code == 404
    assert signed_in(app, province_regulator).get("/regulator/jobs/999999").status_code == 404


# --- a province's official tables as a file ------------------------------------------------------------------

def ask_export(client, regulator, kind="knowledge"):
    return client.post("/regulator/exports/jobs", data={"kind": kind, "year": str(YEAR),
                                                        "region": str(regulator.region_id)})


def test_a_provinces_table_is_made_in_the_background_and_downloaded_by_its_requester(app, province_regulator,
                                                                                    regulators):
    client = signed_in(app, province_regulator)
    assert 'id="export-job"' in client.get("/regulator/").get_data(as_text=True)
    path = job_path(ask_export(client, province_regulator))
    assert client.get(path + "/file").status_code == 404  # not made yet

    run_queued()

    job = the_job()
    result = json.loads(job.result)
    assert job.status == JobStatus.DONE and result["name"] == f"{YEAR}年度知识更新工程实施情况统计表（四川省）.xlsx"
    assert (background.folder() / result["file"]).is_file()
    page = client.get(path).get_data(as_text=True)
    assert "已完成" in page and f'href="{path}/file"' in page
    download = client.get(path + "/file")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(BytesIO(download.data)).active
    assert sheet["A1"].value == f"专业技术人员知识更新工程实施情况统计表（{YEAR}年度）"
    assert "成都大学继续教育学院" in {c for row in sheet.iter_rows(values_only=True) for c in row}
    # The export is audited in the requester's name, as the direct download is.
    entry = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "export.knowledge_update")).one()
    assert entry.actor_id == province_regulator.id
    for other in regulators.values():
        assert signed_in(app, other).get(path + "/file").status_code == 404
        assert signed_in(app, other).get(path).status_code == 404


def test_a_city_regulator_is_offered_no_background_export_and_cannot_ask_for_the_province(app, regulators, city):
    client = signed_in(app, regulators["city"])
    assert 'id="export-job"' not in client.get("/regulator/").get_data(as_text=True)

    response = client.post("/regulator/exports/jobs", data={"kind": "catalog", "year": str(YEAR),
                                                            "region": str(city.parent_id)})

    assert response.headers["Location"] == "/regulator/"  # not a choice of the form
    assert db.session.scalar(sa.select(sa.func.count(JobRecord.id))) == 0


def test_a_jobs_file_is_removed_after_seven_days_by_the_nightly_sweep(app, province_regulator):
    client = signed_in(app, province_regulator)
    old = job_path(ask_export(client, province_regulator, "catalog"))
    fresh = job_path(ask_export(client, province_regulator, "strategic"))
    run_queued()
    files = {job.id: background.folder() / json.loads(job.result)["file"]
             for job in db.session.scalars(sa.select(JobRecord))}
    old_file = files[int(old.rsplit("/", 1)[1])]
    eight_days_ago = time.time() - 8 * 86400
    os.utime(old_file, (eight_days_ago, eight_days_ago))

    jobs.sweep_job_files.call_local()

    assert not old_file.exists() and files[int(fresh.rsplit("/", 1)[1])].exists()
    assert client.get(old + "/file").status_code == 404
    assert "文件已超过保留期限" in client.get(old).get_data(as_text=True)
    assert client.get(fresh + "/file").status_code == 200


# --- jobs whose task was lost -----------------------------------------------------------------------------

def test_a_job_whose_task_never_reached_the_queue_is_queued_again_by_the_sweep(app, province_regulator):
    path = job_path(ask_province_evaluation(signed_in(app, province_regulator), province_regulator))
    huey.flush()  # as if the queue's store had been down at the commit
    jobs.sweep_lost_jobs.call_local()
    assert run_queued() == 0  # too recent to be called lost: its task may still be on its way

    job = the_job()
    job.created_at -= timedelta(minutes=20)
    db.session.commit()
    jobs.sweep_lost_jobs.call_local()
    run_queued()

    assert the_job().status == JobStatus.DONE
    assert "已完成" in signed_in(app, province_regulator).get(path).get_data(as_text=True)


def test_a_job_left_running_by_a_stopped_worker_is_run_again_and_a_running_one_is_not_claimed_twice(
        app, province_regulator):
    job_path(ask_province_evaluation(signed_in(app, province_regulator), province_regulator))
    huey.flush()
    job = the_job()
    job.status, job.started_at, job.attempts = JobStatus.RUNNING, utcnow(), 1
    db.session.commit()

    assert background.start(job.id) is None  # another worker has it
    jobs.sweep_lost_jobs.call_local()
    assert run_queued() == 0  # running for a minute: not stuck

    job = the_job()
    job.started_at -= timedelta(hours=3)
    job.created_at -= timedelta(hours=3)
    db.session.commit()
    jobs.sweep_lost_jobs.call_local()
    run_queued()

    assert the_job().status == JobStatus.DONE
    assert db.session.scalar(sa.select(sa.func.count(Evaluation.id))) == 1
