"""Clients for the outside world: Temporal, SMTP, payment gateways. Each speaks one foreign protocol."""
