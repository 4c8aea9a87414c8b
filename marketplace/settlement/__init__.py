"""Settlement domain: providers claim confirmed orders (兑付申请), reviewers and finance decide,
the treasury pays approved lines by bank transfer in payout batches, and the bank's
confirmation settles the orders.

``claims`` (submission, the automatic pre-check, the two-step review), ``payouts`` (batches,
sending, confirmations, settling), ``payout_files`` (the bank's two CSV files), ``rules`` (the
pre-check and the claim-line state table, pure), ``ledger_checks`` (the whole books, payouts
included), ``models``, ``enums``, ``errors``, ``schemas``, ``notices``, ``cli``.
"""
