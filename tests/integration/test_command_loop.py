"""The periodic commands' loop: each item commits on its own, a failure is reported with the
item's id and the run goes on, and the command exits non-zero when anything failed."""

from __future__ import annotations

import pytest
from flask.cli import AppGroup

from marketplace.commands import each_in_its_own_transaction
from marketplace.errors import Conflict, DomainError
from vouchers.models import Enterprise


class Refused(Conflict):
    code = "refused_for_test"


@pytest.fixture
def renaming(make_app, create_enterprise):
    """An app with a command renaming five enterprises, item by item."""
    enterprises = [create_enterprise(name=f"企业{i}") for i in range(5)]
    app = make_app()
    group = AppGroup("probe")

    def rename(session, enterprise_id: int) -> str:
        row = session.get(Enterprise, enterprise_id)
        row.name = f"改名{enterprise_id}"
        session.flush()
        if enterprise_id == enterprises[1].id:
            raise Refused("第二家不行 / not the second")
        if enterprise_id == enterprises[2].id:
            try:
                raise Refused("吞掉了 / swallowed")
            except DomainError:
                pass  # not recovered: the item still fails
        if enterprise_id == enterprises[3].id:
            raise RuntimeError("unexpected")
        return row.name

    @group.command("rename")
    def command() -> None:
        report = each_in_its_own_transaction(
            [e.id for e in enterprises],
            rename,
            label="renaming",
            item_id=lambda enterprise_id: f"enterprise {enterprise_id}",
        )
        print(f"renamed {len(report.results)}")
        report.exit_status()

    app.cli.add_command(group)
    return app, enterprises


def test_each_item_commits_alone_and_failures_are_reported(renaming, session):
    app, enterprises = renaming
    result = app.test_cli_runner().invoke(args=["probe", "rename"])
    assert result.exit_code == 1
    assert "renamed 2" in result.stdout
    first, second, third, fourth, fifth = (e.id for e in enterprises)
    assert f"enterprise {second}: refused_for_test" in result.stderr
    assert f"enterprise {third}: refused_for_test — 吞掉了 / swallowed" in result.stderr
    assert f"enterprise {fourth}: RuntimeError — unexpected" in result.stderr
    assert "3 item(s) failed" in result.stderr
    session.expire_all()
    names = {e.id: session.get(Enterprise, e.id).name for e in enterprises}
    assert names[first] == f"改名{first}" and names[fifth] == f"改名{fifth}"
    assert [names[i] for i in (second, third, fourth)] == ["企业1", "企业2", "企业3"]
