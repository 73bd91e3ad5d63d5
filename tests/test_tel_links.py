"""Phone numbers shown as contact are tel: links (digits only in the href); masked numbers are not links."""

import re

import pytest

from app import tel_links
from extensions import db

TEL = re.compile(r'<a href="tel:([^"]*)">([^<]*)</a>')


@pytest.mark.parametrize(("text", "links"), [
    ("028-61234567", [("02861234567", "028-61234567")]),
    ("13800138000", [("13800138000", "13800138000")]),
    ("(028) 8888 6666 转 123", [("02888886666", "(028) 8888 6666")]),
    ("+86 138 0013 8000", [("+8613800138000", "+86 138 0013 8000")]),
    ("028-61234567 / 13800138000", [("02861234567", "028-61234567"), ("13800138000", "13800138000")]),
    ("138****8000", []),
    ("", []),
    (None, []),
])
def test_phone_numbers_in_a_contact_text_become_tel_links(text, links):
    assert TEL.findall(str(tel_links(text))) == links


def test_the_text_around_a_number_is_escaped():
    html = '&lt;b&gt;张&lt;/b&gt; <a href="tel:02861234567">028-61234567</a>'
    assert str(tel_links("<b>张</b> 028-61234567")) == html


def test_public_course_and_base_pages_link_their_contact_phones(client, make_base, make_course):
    base = make_base()
    course = make_course(base)
    for path in (f"/courses/{course.id}", f"/bases/{base.id}"):
        html = client.get(path).get_data(as_text=True)
        assert '<a href="tel:02861234567">028-61234567</a>' in html, path


def test_a_masked_phone_is_not_a_link(client, make_base):
    base = make_base()
    base.contact_phone = "138****8000"
    db.session.commit()
    html = client.get(f"/bases/{base.id}").get_data(as_text=True)
    assert "138****8000" in html
    assert 'href="tel:' not in html
