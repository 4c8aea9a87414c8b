"""Instrument booking pages: the week calendar, booking requests, each booking's steps, the
provider's calendar settings and closures, and the programme office's utilisation."""
