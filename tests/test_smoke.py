"""The app starts on a migrated database and answers its public pages."""


def test_public_pages_answer(client, make_base, make_course):
    base = make_base()
    course = make_course(base, title="人工智能与健康")
    for url in ("/", "/courses", f"/courses/{course.id}", "/bases", f"/bases/{base.id}", "/login"):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "人工智能与健康" in client.get("/courses").get_data(as_text=True)


def test_unknown_course_is_a_404_page_in_chinese(client):
    response = client.get("/courses/424242")
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)
