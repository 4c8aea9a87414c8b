"""Where the PostgreSQL tests get their server (the harness itself is code worth testing)."""

from tests.support import postgres


def test_test_database_url_wins_and_hides_the_password(monkeypatch):
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql://me:secret@db.internal/x")
    plan = postgres.plan()
    assert plan.source == "TEST_DATABASE_URL"
    assert "secret" not in plan.detail


def test_throwaway_server_when_binaries_exist(monkeypatch, tmp_path):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    (tmp_path / "initdb").touch()
    monkeypatch.setattr(postgres, "find_bindir", lambda: tmp_path)
    assert postgres.plan().source == "throwaway"


def test_unavailable_without_either(monkeypatch):
    monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
    monkeypatch.setattr(postgres, "find_bindir", lambda: None)
    plan = postgres.plan()
    assert plan.source == "unavailable" and "TEST_DATABASE_URL" in plan.detail
