"""Operations (issue 17): health and readiness probes, Prometheus metrics, backups and the
restore drill.

This package sits in the *app* layer (README, "Architecture"): a backup's manifest counts the
rows of every table and reads the ledger's head, the metrics read holds, payouts and budgets,
and the drill runs ``ledger verify`` — so it must see every domain, which only the app may.
"""
