"""Bookable instruments: calendars, closures, bookings that become orders, utilisation."""
