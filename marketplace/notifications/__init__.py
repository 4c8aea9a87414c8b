"""E-mail notifications: bilingual (Chinese first, English below), sent only after the commit.

Other modules call one function::

    from marketplace.notifications import notify

    notify(session, user, "payment_received", amount_fen=payment.amount_fen, reference=...)

* ``user`` is a :class:`~marketplace.auth.models.User` or a plain e-mail address;
* ``"payment_received"`` names ``marketplace/notifications/templates/payment_received.txt``, a
  Jinja template with four blocks: ``subject_zh``, ``subject_en``, ``body_zh``, ``body_en``.
  Every variable it uses must be passed (undefined variables are an error, raised inside the
  caller's transaction). ``base_url`` is always available, and the ``fen`` filter shows money;
* the message is stored in the outbox (``outbound_emails``) in the caller's transaction and
  handed to the job queue (:mod:`marketplace.jobs`) for after the commit: inline without
  ``REDIS_URL``, on RQ with it. A rollback drops both the row and the job.

Delivery uses SMTP (``SMTP_HOST``/``SMTP_PORT``, sender ``MAIL_FROM``); without ``SMTP_HOST``
the message is written to the log instead, so development and the demo need no mail server.
To add a notification, add a template here and call ``notify`` from the service that makes the
transition.
"""

from marketplace.notifications.services import notify

__all__ = ["notify"]
