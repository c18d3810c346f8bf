"""Outgoing notifications: webhook endpoints, the deliveries recorded with each trade transition, and
their HTTP delivery."""
