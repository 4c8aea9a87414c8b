"""Voucher domain: programmes, enterprises and their quota, issuance, holds, the ledger, expiry."""
