"""Settlement pages for providers: claimable orders, submitting a claim, claims and checklists.

The cooling-off period (``SETTLEMENT_COOLING_OFF_DAYS``, validated with every other setting in
``marketplace.config``) is how many days after confirmation (China dates) an order can be
claimed, so a late dispute can still stop it before money is claimed.
"""
