"""File inputs offer in the picker the files their upload takes: the form macro renders each field's own
``accept`` (images for a cover or a logo, CSV/XLSX for a roster, CSV for the holiday calendar, PDF or images
for evidence), and every upload page renders its file input with the macro."""

import re

import pytest
from flask import render_template_string

from blueprints.base_admin.forms import CourseForm, DisclosureForm, RosterImportForm
from blueprints.learner.forms import DeclarationForm
from blueprints.platform.forms import CalendarForm
from models import Role
from tests.conftest import login

IMAGES = "image/jpeg,image/png,image/webp"


def accept_of(html: str, name: str) -> str | None:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag, f"no input {name}"
    found = re.search(r'accept="([^"]*)"', tag.group(0))
    return found.group(1) if found else None


def through_the_macro(form, name: str) -> str:
    return render_template_string("{% from '_macros.html' import field %}{{ field(f) }}", f=form[name])


@pytest.mark.parametrize(("form", "name", "accepted", "refused"), [
    (CourseForm, "cover", ["image/jpeg", "image/png", "image/webp"], [".csv"]),
    (DisclosureForm, "logo", ["image/jpeg", "image/png", "image/webp"], [".csv"]),
    (RosterImportForm, "roster", [".xlsx", ".csv"], ["image/"]),
    (CalendarForm, "schedule", [".csv"], ["image/", ".xlsx"]),
    (DeclarationForm, "files", ["application/pdf", "image/jpeg", "image/png"], [".csv"]),
])
def test_the_macro_gives_a_file_input_the_accept_of_its_field(app, form, name, accepted, refused):
    with app.test_request_context():
        accept = accept_of(through_the_macro(form(meta={"csrf": False}), name), name)

    assert accept is not None
    assert all(kind in accept.split(",") or kind in accept for kind in accepted), accept
    assert not any(kind in accept for kind in refused), accept


def test_a_file_field_that_names_no_types_is_not_limited_to_images(app):
    from flask_wtf.file import FileField

    from blueprints.validators import InputForm

    class AnyFile(InputForm):
        upload = FileField("文件")

    with app.test_request_context():
        html = through_the_macro(AnyFile(meta={"csrf": False}), "upload")

    assert accept_of(html, "upload") is None


def test_every_upload_page_renders_its_file_input_with_the_fields_accept(app, make_user, make_base, make_course):
    admin = make_user(Role.BASE_ADMIN)
    base = make_base(admin=admin)
    course = make_course(base)
    manager = app.test_client()
    assert login(manager, admin).status_code == 302
    platform_admin = app.test_client()
    assert login(platform_admin, make_user(Role.PLATFORM_ADMIN, region_id=None)).status_code == 302
    learner = app.test_client()
    assert login(learner, make_user(Role.LEARNER)).status_code == 302

    pages = {
        "cover": manager.get(f"/manage/bases/{base.id}/courses/new"),
        "logo": manager.get(f"/manage/bases/{base.id}/disclosure"),
        "roster": manager.get(f"/manage/bases/{base.id}/courses/{course.id}/roster/import"),
        "schedule": platform_admin.get("/platform/"),
        "files": learner.get("/me/declarations/new"),
    }

    accepts = {}
    for name, page in pages.items():
        assert page.status_code == 200, name
        html = page.get_data(as_text=True)
        accepts[name] = accept_of(html, name)
        # the macro's markup: the label and the field's description below the input
        assert re.search(rf'<label class="form-label" for="{name}"', html), name
    assert accepts["cover"] == accepts["logo"] == IMAGES
    assert set(accepts["roster"].split(",")) >= {".xlsx", ".csv"}
    assert ".csv" in accepts["schedule"].split(",") and "image" not in accepts["schedule"]
    assert set(accepts["files"].split(",")) == {"application/pdf", "image/jpeg", "image/png"}
    files = re.search(r'<input[^>]*name="files"[^>]*>', pages["files"].get_data(as_text=True)).group(0)
    assert " multiple" in files  # evidence is several files at once
