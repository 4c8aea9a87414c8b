"""Who is behind an organisation: legal representative, registered address, contacts and bank
accounts, normalised into one indexed table so related parties are found by lookup, not by
comparing every pair (issue 11, point 3)."""
