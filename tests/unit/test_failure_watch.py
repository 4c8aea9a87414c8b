"""Domain errors fail the unit of work that watches them, unless the catcher recovers."""

from marketplace.errors import Conflict, NotFound, watch_failures


def test_an_error_raised_in_the_watch_fails_it():
    with watch_failures() as watch:
        assert not watch.failed
        try:
            raise NotFound("gone")
        except NotFound:
            pass
        assert watch.failed


def test_a_recovered_error_does_not():
    with watch_failures() as watch:
        try:
            raise Conflict("race")
        except Conflict as exc:
            exc.recovered()
        assert not watch.failed


def _raise_and_catch(error):
    try:
        raise error
    except type(error) as caught:
        return caught


def test_one_unrecovered_error_among_recovered_ones_fails_it():
    with watch_failures() as watch:
        _raise_and_catch(Conflict("a")).recovered()
        assert not watch.failed
        _raise_and_catch(NotFound("b"))
        assert watch.failed


def test_an_error_made_but_never_raised_does_not_count():
    with watch_failures() as watch:
        prepared = NotFound("raised only if the check fails")
        assert not watch.failed
        _raise_and_catch(prepared)
        assert watch.failed


def test_watches_nest_and_the_outer_one_resumes():
    with watch_failures() as outer:
        with watch_failures() as inner:
            _raise_and_catch(NotFound("inner only"))
        assert inner.failed and not outer.failed
        _raise_and_catch(Conflict("outer"))
        assert outer.failed


def test_errors_outside_any_watch_are_not_noted():
    _raise_and_catch(NotFound("nobody watching"))
    with watch_failures() as watch:
        assert not watch.failed
