"""Order steps and audit actions are labelled, never shown as codes (issue 13, point 4)."""

from __future__ import annotations

import re
from pathlib import Path

from marketplace.orders.enums import OrderAction
from marketplace.web import vocabulary

ROOT = Path(__file__).resolve().parents[2]
LITERAL_ACTION = re.compile(r'^\s*"([a-z_]+\.[a-z_.]+)",?\s*$')


def test_every_order_step_has_a_label():
    for action in OrderAction:
        assert vocabulary.order_step(action.value) != action.value
    assert vocabulary.order_step("request") == "提出需求"


def _literal_audit_actions() -> set[str]:
    """Every literal action passed to audit.record: the line after a ``record(`` call."""
    found: set[str] = set()
    for path in [
        *ROOT.glob("marketplace/**/*.py"),
        *ROOT.glob("vouchers/*.py"),
        *ROOT.glob("providers/*.py"),
    ]:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines[:-2]):
            if re.search(r"[^_.\w]record\($", line):
                match = LITERAL_ACTION.match(lines[i + 2]) or LITERAL_ACTION.match(lines[i + 1])
                if match:
                    found.add(match.group(1))
    return found


def test_every_audit_action_recorded_has_a_label():
    actions = _literal_audit_actions()
    assert len(actions) > 50  # the reader finds them
    unlabelled = sorted(a for a in actions if vocabulary.audit_action(a) == a)
    assert not unlabelled


def test_actions_named_by_enum_values_use_the_enums_labels():
    assert vocabulary.audit_action("order.confirm") == "确认验收"
    assert vocabulary.audit_action("application.approve") == "电子券申请：批准并发券"
    assert vocabulary.audit_action("payout_line.paid") == "拨付明细：已到账"
    assert vocabulary.audit_action("provider.objection_upheld") == "异议处理：异议成立"
    assert vocabulary.audit_action("provider.document_rejected") == "材料审核：已驳回"
    assert vocabulary.audit_action("provider.no_such_thing") == "provider.no_such_thing"
    assert vocabulary.audit_subject("payout_batch") == "拨付批次"
    assert vocabulary.audit_subject("unknown") == "unknown"
