"""One transaction per request: it commits only when the request succeeded, and a domain error
fails the request even when a view caught it (no view rolls back by hand)."""

from __future__ import annotations

import pytest
from flask import Blueprint, redirect, render_template_string

from marketplace.db import db_session
from marketplace.errors import Conflict, DomainError
from vouchers.models import Enterprise

ORIGINAL = "原名称"


class Refused(Conflict):
    code = "refused_for_test"


@pytest.fixture
def probe_app(make_app, create_enterprise):
    enterprise = create_enterprise(name=ORIGINAL)
    app = make_app()
    probe = Blueprint("probe", __name__)

    def rename(name: str) -> Enterprise:
        row = db_session().get(Enterprise, enterprise.id)
        assert row is not None
        row.name = name
        db_session().flush()
        return row

    @probe.post("/probe/succeed")
    def succeed():
        rename("成功")
        return redirect("/")

    @probe.post("/probe/caught-and-redirected")
    def caught_and_redirected():
        try:
            rename("失败后跳转")
            raise Refused("不行 / no")
        except DomainError:
            return redirect("/")

    @probe.post("/probe/caught-and-rendered")
    def caught_and_rendered():
        row = None
        try:
            row = rename("失败后显示")
            raise Refused("不行 / no")
        except DomainError:
            return render_template_string("{{ row.name }}", row=row)

    @probe.post("/probe/recovered")
    def recovered():
        rename("已恢复")
        try:
            raise Refused("意料之中 / expected")
        except DomainError as exc:
            exc.recovered()
        return redirect("/")

    @probe.post("/probe/created-elsewhere")
    def created_elsewhere():
        rename("再次成功")
        return redirect("/")

    app.register_blueprint(probe)
    return app, enterprise


def _name(session, enterprise) -> str:
    session.expire_all()
    return session.get(Enterprise, enterprise.id).name


def test_a_successful_request_commits(probe_app, session):
    app, enterprise = probe_app
    assert app.test_client().post("/probe/succeed").status_code == 302
    assert _name(session, enterprise) == "成功"


def test_a_caught_domain_error_still_rolls_the_request_back(probe_app, session):
    app, enterprise = probe_app
    assert app.test_client().post("/probe/caught-and-redirected").status_code == 302
    assert _name(session, enterprise) == ORIGINAL


def test_a_page_shown_after_a_domain_error_shows_the_records_as_they_are(probe_app, session):
    app, enterprise = probe_app
    response = app.test_client().post("/probe/caught-and-rendered")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == ORIGINAL
    assert _name(session, enterprise) == ORIGINAL


def test_an_error_the_code_recovers_from_does_not_fail_the_request(probe_app, session):
    app, enterprise = probe_app
    assert app.test_client().post("/probe/recovered").status_code == 302
    assert _name(session, enterprise) == "已恢复"


def test_each_request_starts_with_a_clean_slate(probe_app, session):
    app, enterprise = probe_app
    client = app.test_client()
    client.post("/probe/caught-and-redirected")
    assert client.post("/probe/created-elsewhere").status_code == 302
    assert _name(session, enterprise) == "再次成功"
