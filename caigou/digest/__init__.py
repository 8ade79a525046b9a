"""Daily digests for subscriptions: what is new (``build``), how it reads (``render``), the Atom feed (``feed``),
SMTP (``mail``) and exactly-once delivery (``run``)."""
