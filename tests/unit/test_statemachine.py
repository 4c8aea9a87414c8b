"""The kernel's state machine: the table is the whole truth, and ``move`` is its one writer."""

from enum import StrEnum
from types import SimpleNamespace

import pytest

from marketplace.errors import Conflict
from marketplace.statemachine import IllegalMove, StateMachine


class Light(StrEnum):
    RED = "red"
    GREEN = "green"
    AMBER = "amber"


class Act(StrEnum):
    GO = "go"
    SLOW = "slow"
    STOP = "stop"
    INSTALL = "install"


class Broken(Conflict):
    code = "broken"


TABLE = {
    (None, Act.INSTALL): Light.RED,
    (Light.RED, Act.GO): Light.GREEN,
    (Light.GREEN, Act.SLOW): Light.AMBER,
    (Light.AMBER, Act.STOP): Light.RED,
}
LIGHT = StateMachine("light", TABLE)


def test_next_follows_the_table_and_refuses_the_rest():
    assert LIGHT.next(Light.RED, Act.GO) is Light.GREEN
    assert LIGHT.next(None, Act.INSTALL) is Light.RED
    with pytest.raises(IllegalMove) as info:
        LIGHT.next(Light.RED, Act.STOP)
    assert info.value.status == 409
    assert info.value.extra == {"state": "red", "action": "stop"}
    with pytest.raises(IllegalMove):
        LIGHT.next(None, Act.GO)


def test_a_machine_raises_its_own_named_error():
    machine = StateMachine("light", TABLE, refuse=lambda s, a: Broken(f"{s} {a}"))
    with pytest.raises(Broken):
        machine.next(Light.GREEN, Act.GO)


def test_move_writes_the_status_and_says_what_it_was():
    lamp = SimpleNamespace(status=Light.GREEN)
    assert LIGHT.move(lamp, Act.SLOW) == (Light.GREEN, Light.AMBER)
    assert lamp.status is Light.AMBER


def test_a_refused_move_changes_nothing():
    lamp = SimpleNamespace(status=Light.GREEN)
    with pytest.raises(IllegalMove):
        LIGHT.move(lamp, Act.STOP)
    assert lamp.status is Light.GREEN


def test_move_writes_the_attribute_the_machine_owns():
    machine = StateMachine("light", TABLE, attribute="colour")
    lamp = SimpleNamespace(colour=Light.RED, status="untouched")
    machine.move(lamp, Act.GO)
    assert (lamp.colour, lamp.status) == (Light.GREEN, "untouched")


def test_reading_without_raising():
    assert LIGHT.allows(Light.AMBER, Act.STOP)
    assert not LIGHT.allows(Light.AMBER, Act.GO)
    assert LIGHT.actions_from(Light.RED) == [Act.GO]
    assert LIGHT.actions_from(None) == [Act.INSTALL]
    assert LIGHT.actions_from(Light.RED, among=[Act.STOP]) == []
    assert LIGHT.states == frozenset(Light)
