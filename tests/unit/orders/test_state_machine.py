"""The order state machine, tested as a table over every (state, action, actor)."""

import itertools

import pytest

from marketplace.orders.enums import Actor, OrderAction, OrderStatus
from marketplace.orders.errors import ActorNotAllowed, IllegalTransition
from marketplace.orders.rules import (
    ACTORS,
    BEFORE_DELIVERY,
    TERMINAL,
    TRANSITIONS,
    allowed_actions,
    transition,
)

S, A = OrderStatus, OrderAction

#: The whole expected table, written out independently of TRANSITIONS.
EXPECTED = {
    "requested": {"quote": "quoted", "decline": "declined", "cancel": "cancelled"},
    "quoted": {"quote": "quoted", "decline": "declined", "accept": "agreed", "cancel": "cancelled"},
    "declined": {},
    "agreed": {"pay": "paid", "cancel": "cancelled"},
    "paid": {"deliver": "delivered", "cancel": "cancelled"},
    "delivered": {"confirm": "confirmed", "auto_confirm": "confirmed", "dispute": "disputed"},
    "disputed": {
        "dismiss_dispute": "confirmed",
        "uphold_partial": "confirmed",
        "uphold_full": "refunded",
    },
    "confirmed": {"claim": "claimed", "dispute": "disputed"},
    "claimed": {
        "approve_claim": "claim_approved",
        "reject_claim": "confirmed",
        "dispute": "disputed",
    },
    "claim_approved": {"pay_out": "paid_out", "payout_failed": "claim_approved"},
    "paid_out": {"settle": "settled"},
    "settled": {},
    "cancelled": {},
    "refunded": {},
}


def test_expected_table_covers_every_state():
    assert set(EXPECTED) == {s.value for s in OrderStatus}


@pytest.mark.parametrize(
    ("status", "action"), list(itertools.product(OrderStatus, OrderAction)), ids=lambda v: v.value
)
def test_every_state_action_pair(status, action):
    actor = next(iter(sorted(ACTORS[action])))
    expected = EXPECTED[status.value].get(action.value)
    if expected is None:
        with pytest.raises(IllegalTransition) as info:
            transition(status, action, actor)
        assert info.value.extra == {"status": status.value, "action": action.value}
        assert info.value.status == 409
    else:
        assert transition(status, action, actor) is OrderStatus(expected)


@pytest.mark.parametrize(("action", "actor"), list(itertools.product(OrderAction, Actor)), ids=str)
def test_only_the_right_party_may_act(action, actor):
    status = next((s for (s, a) in TRANSITIONS if a is action), S.REQUESTED)
    if actor in ACTORS[action]:
        transition(status, action, actor)
    else:
        with pytest.raises(ActorNotAllowed):
            transition(status, action, actor)


def test_the_actor_is_checked_before_the_state():
    # A provider trying to confirm its own delivery learns it may not, whatever the state.
    with pytest.raises(ActorNotAllowed):
        transition(S.SETTLED, A.CONFIRM, Actor.PROVIDER)


def test_terminal_states_have_no_way_out():
    for status in TERMINAL:
        assert not [a for (s, a) in TRANSITIONS if s is status]


def test_cancellation_only_before_delivery():
    assert {s for (s, a) in TRANSITIONS if a is A.CANCEL} == set(BEFORE_DELIVERY)


def test_every_non_terminal_state_reaches_settlement_or_an_end():
    graph = {}
    for (s, _a), t in TRANSITIONS.items():
        graph.setdefault(s, set()).add(t)
    for start in OrderStatus:
        seen, todo = set(), [start]
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(graph.get(node, ()))
        assert seen & TERMINAL, start


def test_happy_path():
    path = [
        (A.QUOTE, Actor.PROVIDER),
        (A.ACCEPT, Actor.ENTERPRISE),
        (A.PAY, Actor.SYSTEM),
        (A.DELIVER, Actor.PROVIDER),
        (A.CONFIRM, Actor.ENTERPRISE),
        (A.CLAIM, Actor.PROVIDER),
        (A.APPROVE_CLAIM, Actor.FINANCE),
        (A.PAY_OUT, Actor.SYSTEM),
        (A.SETTLE, Actor.SYSTEM),
    ]
    status = S.REQUESTED
    for action, actor in path:
        status = transition(status, action, actor)
    assert status is S.SETTLED


def test_allowed_actions_for_pages():
    assert allowed_actions(S.QUOTED, Actor.ENTERPRISE) == [A.ACCEPT, A.CANCEL]
    assert allowed_actions(S.QUOTED, Actor.PROVIDER) == [A.QUOTE, A.DECLINE, A.CANCEL]
    assert allowed_actions(S.SETTLED, Actor.ENTERPRISE) == []
