"""Tests of the bench drivers' own logic (no bench stack needed): the `auction_burst` reference."""
