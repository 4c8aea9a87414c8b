"""Named errors of the voucher domain. Each has a stable ``code`` (API ``code``, tests) and a
bilingual message "中文 / English"."""

from __future__ import annotations

from marketplace.errors import Conflict, DomainError, NotFound


class AmountInvalid(DomainError):
    """An amount that is not a positive whole number of fen within the allowed range."""

    code = "amount_invalid"
    status = 422
    title = "The amount is not valid"


class AmountAboveRequest(Conflict):
    code = "amount_above_request"
    title = "Cannot approve more than was requested"


class DatesOutOfOrder(Conflict):
    """Dates that are each valid but contradict each other (a window closing before it opens).
    A conflict between fields, not a malformed field."""

    code = "dates_out_of_order"
    title = "The dates contradict each other"


class DateInFuture(Conflict):
    code = "date_in_future"
    title = "The date lies in the future"


class ProgrammeClosed(Conflict):
    code = "programme_closed"
    title = "The programme is not open"


class NotEligible(Conflict):
    code = "not_eligible"
    title = "Not eligible for this programme"


class EnterpriseBlacklisted(Conflict):
    code = "enterprise_blacklisted"
    title = "The enterprise is on the dishonesty list"


class EnterpriseUnverified(Conflict):
    code = "enterprise_unverified"
    title = "The enterprise is not verified"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"
    title = "Not enough programme budget"


class CapExceeded(Conflict):
    code = "cap_exceeded"
    title = "Above the enterprise's annual cap"


class DuplicateApplication(Conflict):
    code = "application_exists"
    title = "Already applied to this programme"


class DuplicateProgramme(Conflict):
    code = "programme_exists"
    title = "A programme of this kind already exists for the year"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Not possible in the current state"


class ProgrammeRulesLocked(Conflict):
    code = "programme_rules_locked"
    title = "Vouchers were issued; the programme's rules can no longer change"


class VoucherNotUsable(Conflict):
    """Base for a voucher that cannot take a new hold."""

    code = "voucher_not_usable"
    title = "The voucher cannot be used"


class VoucherExpired(VoucherNotUsable):
    code = "voucher_expired"
    title = "The voucher has expired"


class VoucherNotYetValid(VoucherNotUsable):
    code = "voucher_not_yet_valid"
    title = "The voucher is not valid yet"


class VoucherRevoked(VoucherNotUsable):
    code = "voucher_revoked"
    title = "The voucher was revoked"


class VoucherExhausted(VoucherNotUsable):
    code = "voucher_exhausted"
    title = "The voucher has no balance left"


class ClaimDeadlinePassed(Conflict):
    code = "claim_deadline_passed"
    title = "The programme's redemption-claim deadline has passed"


class HoldNotOpen(Conflict):
    code = "hold_resolved"
    title = "The hold was already captured or released"


class HoldFrozen(Conflict):
    """The order's voucher money is frozen by a blacklisting until a reviewer decides."""

    code = "hold_frozen"
    title = "The voucher money of this order is frozen pending review"


class IdempotencyConflict(DomainError):
    code = "idempotency_key_reused"
    status = 422
    title = "The idempotency key was used for a different operation"


class InsufficientFunds(Conflict):
    """A ledger debit would take an account below zero; callers turn it into a domain error
    (budget_exceeded …) where the account has a meaning to the user."""

    code = "insufficient_funds"
    title = "Not enough money in the account"


class UnbalancedPosting(DomainError):
    code = "ledger_unbalanced"
    status = 422
    title = "A ledger transaction must balance"


class LedgerConflict(Conflict):
    code = "ledger_conflict"
    title = "The ledger refused a conflicting posting"


class VoucherTokenInvalid(NotFound):
    code = "voucher_token_invalid"
    title = "Not a genuine voucher token"


class CsvInvalid(DomainError):
    code = "csv_invalid"
    status = 422
    title = "The CSV file cannot be read"


class FunderBudgetExceeded(Conflict):
    """A funder's part of a hold is more than what is left of that funder's budget in the
    programme (a co-funded programme checks every funder's budget)."""

    code = "funder_budget_exceeded"
    title = "Not enough budget left with one of the programme's funders"


class NoHomeFunder(Conflict):
    """A share paid by the SME's home prefecture or county, and no funder of that division
    funds the programme."""

    code = "no_home_funder"
    title = "No funder of the enterprise's home region funds this programme"


class SharesInvalid(Conflict):
    code = "shares_invalid"
    title = "The funders' shares are not valid"


class SharesLocked(Conflict):
    code = "shares_locked"
    title = "Orders were placed; the programme's funders' shares can no longer change"


class DuplicateFunder(Conflict):
    code = "duplicate_funder"
    title = "A funder of this region exists already"
