"""The public catalogue: search and browse services, provider pages, the public notice (公示)
with its objection form. No sign-in needed."""
