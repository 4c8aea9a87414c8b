"""Named errors of settlement (claims and payouts). Stable ``code``s for the API and tests.

Reused from the voucher domain, with the same codes: ``claim_deadline_passed``
(:class:`vouchers.errors.ClaimDeadlinePassed`) and ``cap_exceeded``
(:class:`vouchers.errors.CapExceeded`); from the kernel, ``reason_required``
(:class:`marketplace.errors.ReasonRequired`).
"""

from __future__ import annotations

from marketplace.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class ClaimNotFound(NotFound):
    code = "claim_not_found"
    title = "No such claim"


class PayoutBatchNotFound(NotFound):
    code = "payout_batch_not_found"
    title = "No such payout batch"


class NotClaimable(Conflict):
    """The order cannot be put in a claim now (state, ownership of the hold, cooling-off …)."""

    code = "not_claimable"
    title = "The order cannot be claimed"


class VoucherRevoked(Conflict):
    code = "voucher_revoked"
    title = "The order's voucher was revoked; its voucher part is recovered, not paid out"


class OrderDisputed(Conflict):
    code = "order_disputed"
    title = "The order is in dispute; its claim line is frozen"


class InvoiceAlreadyClaimed(Conflict):
    code = "invoice_already_claimed"
    title = "The invoice was already claimed on the platform"


class InvoiceAmountMismatch(Conflict):
    code = "invoice_amount_mismatch"
    title = "The invoice amount differs from the order price"


class InvoicePartiesMismatch(Conflict):
    code = "invoice_parties_mismatch"
    title = "The invoice's buyer or seller is not the order's enterprise or provider"


class InvoiceDateOutsideValidity(Conflict):
    code = "invoice_date_outside_validity"
    title = "The invoice date lies outside the voucher's validity"


class InvoiceItemsMismatch(Conflict):
    code = "invoice_items_mismatch"
    title = "The invoice's item lines do not fit the service category"


class InvoiceReversed(Conflict):
    code = "invoice_reversed"
    title = "The invoice was reversed by a red-letter invoice"


class CoPaymentNotReceived(Conflict):
    code = "co_payment_not_received"
    title = "The enterprise's co-payment has not been received in full"


class VoucherPartAboveCeiling(Conflict):
    code = "voucher_part_above_ceiling"
    title = "The voucher part exceeds the programme's ceiling of the invoiced amount"


class ClaimLineFrozen(Conflict):
    """The provider was suspended: the line is frozen until a reviewer decides."""

    code = "claim_line_frozen"
    title = "The claim line is frozen pending review"


class ClaimStateConflict(Conflict):
    """The decision does not fit the line's current step (already decided, not yet reviewed…)."""

    code = "claim_state_conflict"
    title = "Not possible in the claim line's current state"


class SeparationOfDuties(PermissionDenied):
    code = "separation_of_duties"
    title = "The finance approval must come from a different person than the review"


class BankAccountMissing(Conflict):
    code = "bank_account_missing"
    title = "The provider has no settlement bank account on file"


class TreasuryAccountMissing(Conflict):
    """A funder's payout batch names the account its treasury pays from: none on file."""

    code = "treasury_account_missing"
    title = "The paying treasury has no bank account on file"


class PayerRequired(ValidationFailed):
    """The lines to pay are paid by several treasuries: a batch is one treasury's; name it."""

    code = "payer_required"
    title = "Several treasuries pay these lines: name the funder whose batch to build"


class NothingToPay(Conflict):
    code = "nothing_to_pay"
    title = "No approved claim lines are waiting for a payout"


class PayoutStateConflict(Conflict):
    code = "payout_state_conflict"
    title = "Not possible in the payout batch's current state"


class ConfirmationConflict(Conflict):
    """A bank confirmation that contradicts one imported before: refused, nothing changes."""

    code = "confirmation_conflict"
    title = "The confirmation contradicts an earlier one"


class ConfirmationMismatch(Conflict):
    """Confirmation rows that name no payment line of the batch, contradict each other or
    share one bank transaction: refused whole; ``extra["rows"]`` maps "row N" to problems."""

    code = "confirmation_mismatch"
    title = "The confirmation does not match the batch"


class ConfirmationInvalid(ValidationFailed):
    """The bank confirmation file cannot be read; ``errors["csv"]`` lists every problem with
    its row number."""

    code = "confirmation_invalid"
    title = "The bank confirmation file cannot be read"


class SecondApprovalRequired(Conflict):
    """A batch above the second-approval amount is approved by another officer before sending."""

    code = "second_approval_required"


class NotRedLetter(Conflict):
    code = "not_red_letter"
    title = "The invoice uploaded as a red-letter one is not red-letter"


class ClaimDocumentsMissing(Conflict):
    code = "claim_documents_missing"
    title = "Documents the claim needs are missing"


class InvoiceNotVerified(Conflict):
    code = "invoice_not_verified"
    title = "The tax authority does not confirm the invoice"
