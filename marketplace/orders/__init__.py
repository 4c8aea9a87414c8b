"""The marketplace transaction: an SME orders a provider's service and pays with a voucher."""
