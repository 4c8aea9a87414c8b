"""Chinese is the default language: every user-facing string needs a zh translation."""

from tests.support.i18n import extracted_msgids, missing


def test_strings_are_extracted():
    assert "Sign in" in extracted_msgids()


def test_every_string_has_a_chinese_translation():
    untranslated = missing()
    assert not untranslated, (
        "missing zh translations (run python -m tests.support.i18n):\n"
        + "\n".join(f"{where}: {msgid!r}" for msgid, where in sorted(untranslated.items()))
    )
