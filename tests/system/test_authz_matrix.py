"""The authorization matrix: every endpoint under /api/v1/ × every role, allowed or denied.

`test_every_endpoint_is_in_the_matrix` walks the URL resolver (ViewSet routes: their `actions`; APIViews:
the handlers they define among get/post/put/patch/delete) and fails for any (url name, method) missing
from MATRIX, so a new endpoint fails until someone decides who may call it. The trailing-slash legacy
duplicates (names containing "-slash-") are being removed and are left out.

`test_authorization` runs each MATRIX entry for every role against one world (built once per module
inside a transaction that is rolled back at the end; every single request also runs in a savepoint that
is rolled back, so no role sees another role's writes). URLs with an id point at objects of organization
B (a Xiamen enterprise): reaching another organization's objects by id must be denied for A's roles.

  denied  = 401, 403 or 404 (an anonymous caller: exactly 401)
  allowed = any other status below 500 (a 400 for an empty body passed authorization)
  any 5xx fails, whatever was expected.

Writes send an empty JSON body, except where authorization is decided after input validation (the
service checks jurisdiction or ownership): those send a minimal valid body (BODIES).

`test_list_visibility` checks that lists and exports only show B's objects to those who may see them
(an allowed list must not leak what the same role is denied by id).
"""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.support.matrix import PASSWORD, World, _seq

# --- roles --------------------------------------------------------------------------------------------

ROLES = ("anon", "trader", "viewer", "county", "city", "province", "operator", "owner", "owner_admin", "party")
# column abbreviations in MATRIX: an tr vw co ci pr op ow oa pa
ROLE_DOC = {
    "anon": "anonymous (no token)",
    "trader": "enterprise A (Fuzhou Gulou 350102), trader",
    "viewer": "enterprise A, viewer",
    "county": "Minhou county government (350121), admin",
    "city": "Fuzhou city regulator (jurisdiction 350100), approver",
    "province": "provincial regulator (jurisdiction 350000), approver",
    "operator": "the exchange operator, admin",
    "owner": "enterprise B (Xiamen Siming 350203), trader: B owns the objects the URLs point at",
    "owner_admin": "enterprise B, admin",
    "party": "enterprise C (Xiamen Haicang 350206), trader: B's counterparty (buyer of the trade, named buyer of "
             "the negotiated listing)",
}

# --- the matrix ---------------------------------------------------------------------------------------
# One string per (url name, method): one mark per role, in the order of ROLES: "+" allowed, "-" denied.
# Ids in URLs name B's objects (see url_kwargs): B's order, trade, membership, webhook, deposit transaction,
# negotiated listing (offered to C), approval request and alert; organization B; the Xiamen market.
MATRIX: dict[tuple[str, str], str] = {
    #                                            an tr vw co ci pr op ow oa pa
    # --- accounts: authentication, reference data, the organization directory, memberships
    # public (a 400 for the empty body)
    ("auth-login", "post"):                     "+  +  +  +  +  +  +  +  +  +",
    ("auth-logout", "post"):                    "-  +  +  +  +  +  +  +  +  +",
    # one's own password (a 400 for the empty body)
    ("auth-password", "post"):                  "-  +  +  +  +  +  +  +  +  +",
    ("auth-refresh", "post"):                   "-  +  +  +  +  +  +  +  +  +",
    ("basin-detail", "get"):                    "-  +  +  +  +  +  +  +  +  +",
    ("basin-list", "get"):                      "-  +  +  +  +  +  +  +  +  +",
    ("me", "get"):                              "-  +  +  +  +  +  +  +  +  +",
    # one's own invitations: B's trader ("owner") is invited to C
    ("invitation-accept", "post"):              "-  -  -  -  -  -  -  +  -  -",
    ("invitation-decline", "post"):             "-  -  -  -  -  -  -  +  -  -",
    ("invitation-list", "get"):                 "-  +  +  +  +  +  +  +  +  +",
    ("membership-detail", "get"):               "-  -  -  -  -  -  +  -  +  -",
    ("membership-detail", "patch"):             "-  -  -  -  -  -  +  -  +  -",
    ("membership-list", "get"):                 "-  -  -  +  -  -  +  -  +  -",
    # body names B: only B's admins and the operator's
    ("membership-list", "post"):                "-  -  -  -  -  -  +  -  +  -",
    ("organization-activate", "post"):          "-  -  -  -  -  -  +  -  -  -",
    # the public directory (private fields: test_list_visibility)
    ("organization-detail", "get"):             "-  +  +  +  +  +  +  +  +  +",
    ("organization-detail", "patch"):           "-  -  -  -  -  -  +  -  -  -",
    ("organization-list", "get"):               "-  +  +  +  +  +  +  +  +  +",
    ("organization-list", "post"):              "-  -  -  -  -  -  +  -  -  -",
    ("organization-suspend", "post"):           "-  -  -  -  -  -  +  -  -  -",
    ("region-detail", "get"):                   "-  +  +  +  +  +  +  +  +  +",
    ("region-list", "get"):                     "-  +  +  +  +  +  +  +  +  +",
    # --- ledger
    ("ledger-assets", "get"):                   "-  +  +  +  +  +  +  +  +  +",
    ("ledger-assets", "post"):                  "-  -  -  +  -  -  +  -  -  -",
    ("ledger-checkpoints", "get"):              "-  +  +  +  +  +  +  +  +  +",
    ("ledger-consistency", "get"):              "-  +  +  +  +  +  +  +  +  +",
    # public keys that verify checkpoints: public, no login
    ("ledger-public-keys", "get"):              "+  +  +  +  +  +  +  +  +  +",
    ("ledger-deposits", "post"):                "-  -  -  -  -  -  +  -  -  -",
    ("ledger-expirations", "post"):             "-  -  -  +  -  -  +  -  -  -",
    ("ledger-export-csv", "get"):               "-  -  -  -  +  +  +  -  -  -",
    ("ledger-export-jsonl", "get"):             "-  -  -  -  +  +  +  -  -  -",
    ("ledger-export-xlsx", "get"):              "-  -  -  -  +  +  +  -  -  -",
    ("ledger-holdings", "get"):                 "-  +  +  +  +  +  +  +  +  +",
    # the whole register: the operator and regulators
    ("ledger-register-holdings", "get"):        "-  -  -  -  +  +  +  -  -  -",
    ("ledger-register-conservation", "get"):    "-  -  -  -  +  +  +  -  -  -",
    # county: the right originates in Xiamen
    ("ledger-issuances", "post"):               "-  -  -  -  -  -  +  -  -  -",
    # maker–checker requests: everyone lists what they may see; B's deposit proposal (by an operator trader)
    # is the operator's to see and confirm (its admin: another person)
    ("ledger-movement", "get"):                 "-  -  -  -  -  -  +  -  -  -",
    ("ledger-movement-confirm", "post"):        "-  -  -  -  -  -  +  -  -  -",
    ("ledger-movement-reject", "post"):         "-  -  -  -  -  -  +  -  -  -",
    ("ledger-movements", "get"):                "-  +  +  +  +  +  +  +  +  +",
    ("ledger-retirements", "post"):             "-  +  -  +  -  -  +  +  +  +",
    ("ledger-statements", "get"):               "-  +  +  +  +  +  +  +  +  +",
    # B's deposit
    ("ledger-transaction", "get"):              "-  -  -  -  -  +  +  +  +  -",
    ("ledger-transfers", "post"):               "-  -  -  -  -  -  +  -  -  -",
    # admins of a regulator or of the operator only (city/province here are approvers: denied)
    ("ledger-verification", "get"):             "-  -  -  -  -  -  +  -  -  -",
    ("ledger-verifications", "post"):           "-  -  -  -  -  -  +  -  -  -",
    ("ledger-withdrawals", "post"):             "-  -  -  -  -  -  +  -  -  -",
    # --- marketplace and the order book
    ("market-book", "get"):                     "-  +  +  +  +  +  +  +  +  +",
    ("market-candles", "get"):                  "-  +  +  +  +  +  +  +  +  +",
    ("market-close", "post"):                   "-  -  -  -  -  -  +  -  -  -",
    ("market-detail", "get"):                   "-  +  +  +  +  +  +  +  +  +",
    # the participant view of the rules and of one's own eligibility: every member
    ("market-eligibility", "get"):              "-  +  +  +  +  +  +  +  +  +",
    ("market-halt", "post"):                    "-  -  -  -  -  -  +  -  -  -",
    ("market-list", "get"):                     "-  +  +  +  +  +  +  +  +  +",
    # markets without code: the operator's admins propose (a 400 / 202 for the empty body) …
    ("market-list", "post"):                    "-  -  -  -  -  -  +  -  -  -",
    ("market-detail", "patch"):                 "-  -  -  -  -  -  +  -  -  -",
    # … and another person of the operator confirms (the proposal is by a second operator admin)
    ("market-proposal-list", "get"):            "-  -  -  -  -  -  +  -  -  -",
    ("market-proposal-detail", "get"):          "-  -  -  -  -  -  +  -  -  -",
    ("market-proposal-confirm", "post"):        "-  -  -  -  -  -  +  -  -  -",
    ("market-proposal-reject", "post"):         "-  -  -  -  -  -  +  -  -  -",
    ("market-resume", "post"):                  "-  -  -  -  -  -  +  -  -  -",
    ("market-rules", "get"):                    "-  +  +  +  +  +  +  +  +  +",
    ("market-trades", "get"):                   "-  +  +  +  +  +  +  +  +  +",
    ("order-cancel", "post"):                   "-  -  -  -  -  -  -  +  +  -",
    # own orders only, the operator included
    ("order-detail", "get"):                    "-  -  -  -  -  -  -  +  +  -",
    ("order-list", "get"):                      "-  +  +  +  +  +  +  +  +  +",
    ("order-list", "post"):                     "-  +  -  +  -  -  -  +  +  +",
    ("order-reduce", "post"):                   "-  -  -  -  -  -  -  +  +  -",
    # own trades only; regulators use oversight
    ("trade-detail", "get"):                    "-  -  -  -  -  -  -  +  +  +",
    ("trade-events", "get"):                    "-  +  +  +  +  +  +  +  +  +",
    # public, anonymized
    ("trade-feed", "get"):                      "+  +  +  +  +  +  +  +  +  +",
    ("trade-list", "get"):                      "-  +  +  +  +  +  +  +  +  +",
    # --- listings
    # B's negotiated offer to C: only C
    ("listing-accept", "post"):                 "-  -  -  -  -  -  -  -  -  +",
    ("listing-bids", "get"):                    "-  -  -  -  -  -  +  +  +  +",
    # owner/party: passes authorization, then a 400
    ("listing-bids", "post"):                   "-  -  -  -  -  -  -  +  +  +",
    # owner/party: passes authorization, then wrong_listing_kind
    ("listing-buy", "post"):                    "-  -  -  -  -  -  -  +  +  +",
    ("listing-cancel", "post"):                 "-  -  -  -  -  -  -  +  +  -",
    # negotiated: the two parties and the operator
    ("listing-detail", "get"):                  "-  -  -  -  -  -  +  +  +  +",
    ("listing-list", "get"):                    "-  +  +  +  +  +  +  +  +  +",
    ("listing-list", "post"):                   "-  +  -  +  -  -  -  +  +  +",
    ("listing-reject", "post"):                 "-  -  -  -  -  -  -  -  -  +",
    # --- package bids (issue #18, helper reserve): own packages; placing needs a trading kind and role
    ("package-list", "get"):                    "-  +  +  +  +  +  +  +  +  +",
    ("package-list", "post"):                   "-  +  -  +  -  -  -  +  +  +",
    # --- government reserve (issue #18, helper reserve): designations by the operator (four eyes), notices and
    # releases by the designated government body, tenders by any trading organization, the overview for
    # the operator, regulators and governments, the export for the operator and regulators
    ("reserve-designations", "get"):            "-  +  +  +  +  +  +  +  +  +",
    ("reserve-designations", "post"):           "-  -  -  -  -  -  +  -  -  -",
    ("reserve-designations-decide", "post"):    "-  -  -  -  -  -  +  -  -  -",
    ("reserve-buybacks", "get"):                "-  +  +  +  +  +  +  +  +  +",
    ("reserve-buybacks", "post"):               "-  -  -  +  -  -  -  -  -  -",
    ("reserve-buybacks-close", "post"):         "-  -  -  +  -  -  +  -  -  -",
    ("reserve-tenders", "post"):                "-  +  -  +  -  -  -  +  +  +",
    ("reserve-releases", "get"):                "-  +  +  +  +  +  +  +  +  +",
    ("reserve-releases", "post"):               "-  -  -  +  -  -  -  -  -  -",
    ("reserve-overview", "get"):                "-  -  -  +  +  +  +  -  -  -",
    ("reserve-export", "get"):                  "-  -  -  -  +  +  +  -  -  -",
    # --- webhooks and settlement reports
    ("settlement-batches", "get"):              "-  -  -  -  -  -  +  -  -  -",
    ("settlement-earmarked-payouts", "post"):   "-  -  -  +  -  -  +  -  -  -",
    # a government: its own fund
    ("settlement-earmarked-report", "get"):     "-  -  -  +  +  +  +  -  -  -",
    # earmark4eyes: the per-fund earmarked report as a file (the report's readers and scope)
    ("settlement-export-earmarked", "get"):     "-  -  -  +  +  +  +  -  -  -",
    ("webhook-deliveries", "get"):              "-  -  -  -  -  -  -  -  +  -",
    # every organization's deliveries with the error detail: the operator only
    ("webhook-delivery-log", "get"):            "-  -  -  -  -  -  +  -  -  -",
    ("webhook-detail", "delete"):               "-  -  -  -  -  -  -  -  +  -",
    # each organization's admins, their own
    ("webhook-list", "get"):                    "-  -  -  +  -  -  +  -  +  -",
    ("webhook-list", "post"):                   "-  -  -  +  -  -  +  -  +  -",
    ("webhook-rotate-secret", "post"):          "-  -  -  -  -  -  -  -  +  -",
    # --- oversight
    ("oversight-alert", "get"):                 "-  -  -  -  -  +  +  -  -  -",
    ("oversight-alerts", "get"):                "-  -  -  -  +  +  +  -  -  -",
    ("oversight-approval", "get"):              "-  -  -  -  -  +  +  -  -  -",
    ("oversight-approvals", "get"):             "-  -  -  -  +  +  +  -  -  -",
    ("oversight-approve", "post"):              "-  -  -  -  -  +  +  -  -  -",
    ("oversight-audit", "get"):                 "-  -  -  -  +  +  +  -  -  -",
    ("oversight-export-audit", "get"):          "-  -  -  -  +  +  +  -  -  -",
    ("oversight-export-trades", "get"):         "-  -  -  -  +  +  +  -  -  -",
    ("oversight-flags", "get"):                 "-  -  -  -  +  +  +  -  -  -",
    # region Xiamen: outside Fuzhou
    ("oversight-flags", "post"):                "-  -  -  -  -  +  +  -  -  -",
    ("oversight-market-halt", "post"):          "-  -  -  -  -  +  +  -  -  -",
    ("oversight-market-resume", "post"):        "-  -  -  -  -  +  +  -  -  -",
    ("oversight-markets", "get"):               "-  -  -  -  +  +  +  -  -  -",
    # only regulators object (province: 409 not in notice)
    ("oversight-object", "post"):               "-  -  -  -  -  +  -  -  -  -",
    ("oversight-organization-freeze", "post"):  "-  -  -  -  -  +  +  -  -  -",
    ("oversight-organization-unfreeze", "post"):"-  -  -  -  -  +  +  -  -  -",
    ("oversight-organizations", "get"):         "-  -  -  -  +  +  +  -  -  -",
    ("oversight-reject", "post"):               "-  -  -  -  -  +  +  -  -  -",
    ("oversight-report-concentration", "get"):  "-  -  -  -  +  +  +  -  -  -",
    ("oversight-report-farmland", "get"):       "-  -  -  -  +  +  +  -  -  -",
    ("oversight-report-flows", "get"):          "-  -  -  -  +  +  +  -  -  -",
    ("oversight-report-pending", "get"):        "-  -  -  -  +  +  +  -  -  -",
    ("oversight-report-volume", "get"):         "-  -  -  -  +  +  +  -  -  -",
    ("oversight-rule-kinds", "get"):            "-  -  -  -  +  +  +  -  -  -",
    ("oversight-rulebook", "get"):              "-  -  -  -  +  +  +  -  -  -",
    ("oversight-rulebooks", "get"):             "-  -  -  -  +  +  +  -  -  -",
    # the province or the operator
    ("oversight-rulebooks", "post"):            "-  -  -  -  -  +  +  -  -  -",
    ("oversight-surveillance-run", "post"):     "-  -  -  -  +  +  +  -  -  -",
    ("oversight-trade", "get"):                 "-  -  -  -  -  +  +  -  -  -",
    ("oversight-trades", "get"):                "-  -  -  -  +  +  +  -  -  -",
    # --- compensation between regions (compensation app; rows with real objects: branch comptrust). The world
    # (tests/support/matrix.py) has a Minhou ("county", upstream) ↔ Siming (xm_issuer, downstream) agreement:
    # it is seen by its parties' members, regulators covering a party or the section (Fuzhou covers Minhou;
    # the province) and the operator; ids point at its version 2 (awaiting Minhou's signature), the 2024
    # assessment (pending), that assessment's approval (pending, no decision) and Siming's open objection.
    # Monitoring stations, Guangdong's regulator and cross-provincial rules: tests/compensation/.
    ("compensation-agreement", "get"):          "-  -  -  +  +  +  +  -  -  -",
    # body names the parties (then 400: no such section): a party's admin or the operator's may propose
    ("compensation-agreement-versions", "post"):"-  -  -  +  -  -  +  -  -  -",
    # body names Minhou (a party) and the Siming district: only Minhou's admin and the operator's may propose
    # (then 400: no such section)
    ("compensation-agreements", "get"):         "-  +  +  +  +  +  +  +  +  +",
    ("compensation-agreements", "post"):        "-  -  -  +  -  -  +  -  -  -",
    # the first of two approvals: any regulator covering the agreement or the operator (not a party)
    ("compensation-approval-approve", "post"):  "-  -  -  -  +  +  +  -  -  -",
    ("compensation-approval-reject", "post"):   "-  -  -  -  +  +  +  -  -  -",
    ("compensation-approvals", "get"):          "-  -  -  -  +  +  +  -  -  -",
    # a party's admin objects within the window (regulators see the assessment, are not a party: 403)
    ("compensation-assessment-object", "post"): "-  -  -  +  -  -  -  -  -  -",
    ("compensation-export-results", "get"):     "-  +  +  +  +  +  +  +  +  +",
    # only a monitoring station submits (the world's station has no column)
    ("compensation-measurements", "get"):       "-  +  +  +  +  +  +  +  +  +",
    ("compensation-measurements", "post"):      "-  -  -  -  -  -  -  -  -  -",
    ("compensation-measurements-upload", "post"):"-  -  -  -  -  -  -  -  -  -",
    # a regulator covering the agreement or the operator (the deciders of its approval)
    ("compensation-objection-resolve", "post"): "-  -  -  -  +  +  +  -  -  -",
    ("compensation-report-regions", "get"):     "-  -  -  -  +  +  +  -  -  -",
    # Minhou's admin (Siming has signed already); regulators and the operator see the version, are no party
    ("compensation-version-sign", "post"):      "-  -  -  +  -  -  -  -  -  -",
    # --- end compensation
    # --- assistance (paired assistance, farmland buyers' support): a Xiamen → Songxi pair (neither Minhou's nor
    # Fuzhou's), its pending version 2 and pending payment; C's commitment to B against B's trade
    ("assistance-agreement-approve", "post"):   "-  -  -  -  -  +  -  -  -  -",
    ("assistance-agreement-reject", "post"):    "-  -  -  -  -  +  -  -  -  -",
    ("assistance-commitment", "get"):           "-  -  -  -  -  +  +  +  +  +",
    ("assistance-commitment-fulfilments", "post"): "-  -  -  -  -  -  +  +  +  +",
    ("assistance-commitments", "get"):          "-  +  +  +  +  +  +  +  +  +",
    ("assistance-commitments", "post"):         "-  +  -  +  -  -  +  +  +  +",
    ("assistance-export-commitments", "get"):   "-  +  +  +  +  +  +  +  +  +",
    ("assistance-export-progress", "get"):      "-  -  -  +  +  +  +  -  -  -",
    ("assistance-pair", "get"):                 "-  -  -  -  -  +  +  -  -  -",
    ("assistance-pair-agreements", "post"):     "-  -  -  -  -  +  -  -  -  -",
    ("assistance-pairs", "get"):                "-  -  -  +  +  +  +  -  -  -",
    ("assistance-pairs", "post"):               "-  -  -  +  +  +  -  -  -  -",
    # the payer's own admins/approvers confirm (maker–checker inside the paying government): none of these
    ("assistance-payment-confirm", "post"):     "-  -  -  -  -  -  -  -  -  -",
    ("assistance-payment-reject", "post"):      "-  -  -  -  -  -  -  -  -  -",
    ("assistance-payments", "get"):             "-  +  +  +  +  +  +  +  +  +",
    ("assistance-payments", "post"):            "-  +  -  +  -  -  -  +  +  +",
    ("assistance-report-progress", "get"):      "-  -  -  +  +  +  +  -  -  -",
    ("assistance-report-regions", "get"):       "-  -  -  +  +  +  +  -  -  -",
    # --- end assistance
    # --- compliance (issue 18 item 1): reads are scoped by selectors (an enterprise its own, regulators their
    # jurisdiction); writes by kind and role, then the service checks the year's authority / assigned verifier
    ("compliance-allocations", "get"):          "-  +  +  +  +  +  +  +  +  +",
    ("compliance-allocations", "post"):         "-  -  -  +  -  -  -  -  -  -",
    ("compliance-coverage", "get"):             "-  +  +  +  +  +  +  +  +  +",
    ("compliance-coverage", "post"):            "-  -  -  +  -  -  -  -  -  -",
    # only organizations of kind verifier (none among the matrix roles; tests/compliance tests them)
    ("compliance-emissions", "get"):            "-  +  +  +  +  +  +  +  +  +",
    ("compliance-emissions", "post"):           "-  -  -  -  -  -  -  -  -  -",
    ("compliance-enterprises", "post"):         "-  -  -  +  -  -  -  -  -  -",
    ("compliance-obligations", "get"):          "-  +  +  +  +  +  +  +  +  +",
    ("compliance-shortfalls", "get"):           "-  -  -  -  +  +  +  -  -  -",
    ("compliance-surrenders", "post"):          "-  +  -  -  -  -  -  +  +  +",
    ("compliance-years", "get"):                "-  +  +  +  +  +  +  +  +  +",
    ("compliance-years", "post"):               "-  -  -  +  -  -  -  -  -  -",
}


def expectation(key) -> dict[str, bool]:
    marks = MATRIX[key].split()
    assert len(marks) == len(ROLES) and set(marks) <= {"+", "-"}, f"bad MATRIX row for {key}: {MATRIX[key]!r}"
    return {role: mark == "+" for role, mark in zip(ROLES, marks, strict=True)}


# --- the URL patterns ---------------------------------------------------------------------------------

HANDLERS = ("get", "post", "put", "patch", "delete")


def _walk(resolver, prefix=""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern).lstrip("^"), p


def api_endpoints() -> dict[tuple[str, str], str]:
    """{(url name, method): route} for every pattern under /api/v1/."""
    out = {}
    for route, p in _walk(get_resolver()):
        if not route.startswith("api/v1/"):
            continue
        assert p.name, f"unnamed URL pattern {route}: name it so that the matrix can list it"
        if "-slash-" in p.name:
            continue  # the legacy trailing-slash duplicates, being removed
        callback = p.callback
        actions = getattr(callback, "actions", None)
        if actions:
            methods = [m for m in actions if m in HANDLERS]
        else:
            view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
            assert view_class is not None, f"{p.name}: a function view; the matrix only knows class-based views"
            allowed = [m.lower() for m in getattr(view_class, "http_method_names", HANDLERS)]
            methods = [m for m in HANDLERS if m in allowed and hasattr(view_class, m)]
        for method in methods:
            out[(p.name, method)] = route
    return out


def test_every_endpoint_is_in_the_matrix():
    endpoints = api_endpoints()
    missing = sorted(set(endpoints) - set(MATRIX))
    assert not missing, "endpoints missing from MATRIX (add a row deciding who may call them):\n" + "\n".join(
        f"  {name} {method.upper()} /{endpoints[(name, method)]}" for name, method in missing)
    stale = sorted(set(MATRIX) - set(endpoints))
    assert not stale, f"MATRIX rows for endpoints that no longer exist: {stale}"
    for key in MATRIX:
        expectation(key)


# --- requests -----------------------------------------------------------------------------------------

def url_kwargs(name: str, w: World) -> dict:
    i = w.ids
    if name in ("region-detail",):
        return {"code": i["region"]}
    if name in ("basin-detail",):
        return {"code": i["basin"]}
    if name.startswith("oversight-export-") or name == "compensation-export-results":
        return {"fmt": "csv"}
    if name.startswith("assistance-"):  # assistance
        if name.startswith("assistance-export-"):
            return {"fmt": "csv"}
        for prefix, key in (("assistance-pair", "assistance_pair"), ("assistance-agreement-", "assistance_agreement"),
                            ("assistance-payment-", "assistance_payment"),
                            ("assistance-commitment", "assistance_commitment")):
            if name.startswith(prefix):
                return {"pk": i[key]}
    if name == "oversight-rulebook":
        return {"version": i["rulebook"]}
    by_prefix = [
        ("organization-", "B"), ("membership-", "membership"), ("ledger-transaction", "transaction"),
        ("market-proposal-", "market_proposal"),
        ("market-", "market"), ("order-", "order"), ("trade-", "trade"), ("listing-", "listing"),
        ("webhook-", "webhook"), ("oversight-trade", "trade"), ("oversight-organization-", "B"),
        ("oversight-market-", "market"), ("oversight-approv", "approval"), ("oversight-reject", "approval"),
        ("oversight-object", "approval"), ("oversight-alert", "alert"), ("ledger-movement", "movement"),
        ("ledger-verification", "verification"), ("invitation-", "invitation"),
        # compensation (comptrust): the world's agreement, version 2, pending assessment, its approval, the objection
        ("compensation-agreement", "comp_agreement"), ("compensation-version-", "comp_version"),
        ("compensation-approval-", "comp_approval"), ("compensation-assessment-", "comp_assessment"),
        ("compensation-objection-", "comp_objection"),
    ]
    for prefix, key in by_prefix:
        if name.startswith(prefix):
            return {"pk": i[key]}
    raise AssertionError(f"no object for {name}")


def url_for(name: str, w: World) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return reverse(name, kwargs=url_kwargs(name, w))


def _reason():
    return {"reason": "authorization matrix"}


# Minimal bodies where authorization is decided after validation (services check jurisdiction/ownership).
BODIES = {
    # an organization's admin adds members to its own organization only; naming B must be refused
    ("membership-list", "post"): lambda w: {"organization": w.ids["B"], "role": "viewer",
                                            "username": f"mx-new-{_seq()}", "password": PASSWORD},
    ("oversight-rulebooks", "post"): lambda w: {"rules": [], "description": "authorization matrix"},
    ("oversight-flags", "post"): lambda w: {"region": "350203", "pollutant": "SO2", "period_start": "2026-01-01",
                                            "period_end": "2026-12-31"},
    ("oversight-organization-freeze", "post"): lambda w: _reason(),
    ("oversight-organization-unfreeze", "post"): lambda w: _reason(),
    ("oversight-market-halt", "post"): lambda w: _reason(),
    ("oversight-market-resume", "post"): lambda w: _reason(),
    ("market-proposal-reject", "post"): lambda w: _reason(),
    ("oversight-reject", "post"): lambda w: _reason(),
    ("oversight-object", "post"): lambda w: _reason(),
    ("ledger-movement-reject", "post"): lambda w: _reason(),
    ("compensation-agreements", "post"): lambda w: {
        "code": f"mx-{_seq()}", "name_zh": "矩阵", "formula_kind": "compliance_tiers", "terms": {},
        "parties": [{"organization": w.orgs["county"].id, "role": "upstream", "contribution": "1.00"},
                    {"organization": w.orgs["xm_issuer"].id, "role": "downstream", "contribution": "1.00"}],
        "sections": ["none"], "indicators": [], "periods": []},
    ("compensation-measurements", "post"): lambda w: {"rows": [
        {"section": "none", "indicator": "nh3n", "month": "2024-01", "value": "0.5", "unit": "mg/L"}]},
    # compensation (comptrust): the services decide who may, after the shape is valid
    ("compensation-agreement-versions", "post"): lambda w: {
        "formula_kind": "compliance_tiers", "terms": {},
        "parties": [{"organization": w.orgs["county"].id, "role": "upstream", "contribution": "1.00"},
                    {"organization": w.orgs["xm_issuer"].id, "role": "downstream", "contribution": "1.00"}],
        "sections": ["none"], "indicators": [], "periods": []},
    ("compensation-approval-reject", "post"): lambda w: _reason(),
    ("compensation-assessment-object", "post"): lambda w: _reason(),
    ("compensation-objection-resolve", "post"): lambda w: {"outcome": "dismiss", "resolution": "authorization matrix"},
    # the Xiamen-origin right: only a government covering Xiamen (or the operator naming one) issues it
    ("ledger-issuances", "post"): lambda w: {"asset": w.ids["asset_code"], "recipient": w.ids["A"], "amount": "1"},
}
HEADERS = {
    ("ledger-issuances", "post"): {"HTTP_IDEMPOTENCY_KEY": "matrix-issue"},
}


@dataclass
class Result:
    status: int
    body: bytes
    error: str = ""

    def json(self):
        return json.loads(self.body)


def call(w: World, role: str, name: str, method: str, *, query=None) -> Result:
    """One request in a savepoint that is rolled back: no role sees another's writes."""
    url = url_for(name, w)
    body = BODIES.get((name, method), lambda w: {})(w)
    headers = HEADERS.get((name, method), {})
    client = w.client(role)
    with transaction.atomic():
        if method in ("get", "delete") and not body:
            response = getattr(client, method)(url, query or {}, **headers)
        else:
            response = getattr(client, method)(url, body, format="json", **headers)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        error = ""
        if response.status_code >= 500 and getattr(response, "exc_info", None):
            error = repr(response.exc_info[1])
        transaction.set_rollback(True)
    return Result(response.status_code, content, error)


def denied(status: int) -> bool:
    return status in (401, 403, 404)


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(MATRIX), ids=lambda k: f"{k[0]}:{k[1].upper()}")
def test_authorization(world, key, clear_login_throttle):
    name, method = key
    expected = expectation(key)
    problems = []
    for role in ROLES:
        r = call(world, role, name, method)
        got = "5xx" if r.status >= 500 else ("denied" if denied(r.status) else "allowed")
        want = "allowed" if expected[role] else "denied"
        if got == "5xx":
            problems.append(f"{role}: server error {r.status} {r.error} {r.body[:300]!r}")
        elif got != want:
            problems.append(f"{role} ({ROLE_DOC[role]}): expected {want}, got {r.status} {r.body[:300]!r}")
        elif role == "anon" and got == "denied" and r.status != 401:
            problems.append(f"anon: denied with {r.status}, expected 401 {r.body[:200]!r}")
    url = url_for(name, world)
    assert not problems, f"{method.upper()} {url}:\n  " + "\n  ".join(problems)


# --- what allowed lists show ------------------------------------------------------------------------------

def _rows(result: Result, fmt: str = "json") -> list[dict]:
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(result.body.decode("utf-8-sig"))))
    if fmt == "jsonl":
        return [json.loads(line) for line in result.body.decode().splitlines() if line.strip()]
    body = result.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


# (url name, query, format, field of a row, object in w.ids, the roles that must see it). Every other role
# the matrix allows to call the list must not see it.
LISTED = [
    ("order-list", {}, "json", "id", "order", {"owner", "owner_admin"}),
    ("trade-list", {}, "json", "id", "trade", {"owner", "owner_admin", "party"}),
    ("trade-events", {}, "json", "trade", "trade", {"owner", "owner_admin", "party"}),
    ("membership-list", {"page_size": 500}, "json", "id", "membership", {"operator", "owner_admin"}),
    ("webhook-list", {}, "json", "id", "webhook", {"owner_admin"}),
    ("listing-list", {}, "json", "id", "listing", {"operator", "owner", "owner_admin", "party"}),
    ("oversight-trades", {}, "json", "id", "trade", {"province", "operator"}),
    ("oversight-export-trades", {}, "csv", "id", "trade", {"province", "operator"}),
    ("oversight-organizations", {"page_size": 1000}, "json", "id", "B", {"province", "operator"}),
    ("oversight-markets", {"page_size": 1000}, "json", "id", "market", {"province", "operator"}),
    ("oversight-approvals", {}, "json", "id", "approval", {"province", "operator"}),
    ("oversight-alerts", {}, "json", "id", "alert", {"province", "operator"}),
    ("oversight-audit", {"page_size": 1000}, "json", "id", "audit_event", {"province", "operator"}),
    ("oversight-export-audit", {}, "csv", "id", "audit_event", {"province", "operator"}),
    ("ledger-export-csv", {}, "csv", "transaction_id", "transaction", {"province", "operator"}),
    ("ledger-export-jsonl", {}, "jsonl", "id", "transaction", {"province", "operator"}),
    ("ledger-movements", {}, "json", "id", "movement", {"operator"}),
    # assistance
    ("assistance-pairs", {}, "json", "id", "assistance_pair", {"province", "operator"}),
    ("assistance-payments", {}, "json", "id", "assistance_payment", {"province", "operator"}),
    ("assistance-commitments", {}, "json", "id", "assistance_commitment",
     {"province", "operator", "owner", "owner_admin", "party"}),
    ("assistance-export-commitments", {}, "csv", "id", "assistance_commitment",
     {"province", "operator", "owner", "owner_admin", "party"}),
    ("assistance-export-progress", {}, "csv", "pair", "assistance_pair", {"province", "operator"}),
    # compensation (comptrust): the Minhou ↔ Siming agreement, its data, its pending approval, its results
    ("compensation-agreements", {}, "json", "id", "comp_agreement", {"county", "city", "province", "operator"}),
    ("compensation-measurements", {}, "json", "id", "comp_measurement", {"county", "city", "province", "operator"}),
    ("compensation-approvals", {}, "json", "id", "comp_approval", {"city", "province", "operator"}),
    ("compensation-export-results", {}, "csv", "agreement", "comp_agreement_code",
     {"county", "city", "province", "operator"}),
]


def _call_get(w: World, role: str, name: str, query: dict, fmt: str, pk=None) -> Result:
    url = reverse(name, kwargs={"pk": pk}) if pk is not None else url_for(name, w)
    if fmt != "json" and name.startswith("oversight-export-"):
        url = reverse(name, kwargs={"fmt": fmt})
    client = w.client(role)
    with transaction.atomic():
        response = client.get(url, query)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        transaction.set_rollback(True)
    return Result(response.status_code, content)


@pytest.mark.django_db
@pytest.mark.parametrize("case", LISTED, ids=lambda c: f"{c[0]}:{c[4]}")
def test_list_visibility(world, case):
    name, query, fmt, column, obj, seers = case
    wanted = str(world.ids[obj])
    allowed = expectation((name, "get"))
    problems = []
    for role in ROLES:
        if not allowed[role]:
            continue
        r = _call_get(world, role, name, query, fmt)
        assert r.status == 200, (role, r.status, r.body[:300])
        seen = wanted in {str(row.get(column)) for row in _rows(r, fmt)}
        if seen != (role in seers):
            problems.append(f"{role} ({ROLE_DOC[role]}): {'sees' if seen else 'does not see'} B's {obj} {wanted}")
    assert not problems, f"GET {url_for(name, world)}:\n  " + "\n  ".join(problems)


@pytest.mark.django_db
def test_bids_visibility(world):
    """A sealed bid only to its bidder while the auction is open (the seller and the operator included); an
    English auction's bids to every member, the bidder's identity only to the bidder itself."""
    i = world.ids
    problems = []
    for role in ROLES[1:]:
        sealed = {row["id"] for row in _rows(_call_get(world, role, "listing-bids", {}, "json", pk=i["sealed"]))}
        if (i["sealed_bid"] in sealed) != (role == "party"):
            problems.append(f"{role}: {'sees' if i['sealed_bid'] in sealed else 'does not see'} C's sealed bid")
        rows = _rows(_call_get(world, role, "listing-bids", {}, "json", pk=i["c_auction"]))
        bid = next((row for row in rows if row["id"] == i["english_bid"]), None)
        if bid is None:
            problems.append(f"{role}: does not see B's bid in C's English auction")
        elif bool(bid.get("bidder")) != (role in ("owner", "owner_admin")):
            problems.append(f"{role}: bidder of B's English bid {'shown' if bid.get('bidder') else 'hidden'}: {bid}")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_private_directory_fields(world):
    """B's non-public fields (parent, discharge permit, created_at): B itself, the operator and overseers
    covering Xiamen (the province), not A, C, the Minhou county or the Fuzhou regulator."""
    seers = {"province", "operator", "owner", "owner_admin"}
    problems = []
    for role in ROLES[1:]:
        r = _call_get(world, role, "organization-detail", {}, "json")
        assert r.status == 200
        shows = "discharge_permit_no" in r.json()
        if shows != (role in seers):
            problems.append(f"{role}: {'sees' if shows else 'does not see'} B's private fields")
    assert not problems, problems


@pytest.mark.django_db
def test_public_trade_data_is_anonymous(world):
    for name in ("market-trades", "trade-feed"):
        r = _call_get(world, "trader", name, {}, "json")
        assert r.status == 200
        rows = _rows(r)
        assert any(row["id"] == world.ids["trade"] for row in rows), name
        for row in rows:
            assert not {"buyer", "seller", "organization", "buyer_region", "seller_region"} & set(row), (name, row)


@pytest.mark.django_db
def test_reports_keep_to_the_jurisdiction(world):
    """The Fuzhou regulator's pending-approvals and concentration reports leave out Xiamen."""
    xm_asset = world.objects["xm_market"].asset_id
    for role, sees in (("city", False), ("province", True), ("operator", True)):
        pending = _call_get(world, role, "oversight-report-pending", {}, "json").json()
        rows = pending["requests"]
        assert (world.ids["approval"] in {row["id"] for row in rows}) == sees, (role, pending)
        conc = _call_get(world, role, "oversight-report-concentration", {"top": 10}, "json").json()["rows"]
        assert (xm_asset in {row["asset_id"] for row in conc}) == sees, (role, conc)


# --- bodies naming another organization's things ------------------------------------------------------------

def _post(w: World, role: str, url: str, body: dict, headers: dict | None = None, *, then=None) -> Result:
    client = w.client(role)
    with transaction.atomic():
        response = client.post(url, body, format="json", **(headers or {}))
        result = Result(response.status_code, response.content)
        if then is not None:
            then(result)
        transaction.set_rollback(True)
    return result


def _code(result: Result) -> str:
    try:
        return result.json().get("code", "")
    except ValueError:
        return ""


@pytest.mark.django_db
def test_bodies_cannot_act_for_another_organization(world):
    w, i = world, world.ids
    key = {"HTTP_IDEMPOTENCY_KEY": f"mx-{_seq()}"}
    problems = []

    def expect(what, result, statuses, code=None):
        if result.status not in statuses or (code and _code(result) != code):
            problems.append(f"{what}: got {result.status} {result.body[:300]!r}, expected {statuses} {code or ''}")

    # a government pays out of its own earmarked fund only
    expect("county pays out of the Xiamen district's fund",
           _post(w, "county", "/api/v1/settlement/earmarked-payouts",
                 {"organization": w.orgs["xm_issuer"].id, "amount": "1.00", "purpose_code": "farmland_protection",
                  "description": "matrix"}, key), {403}, "permission_denied")
    # a participant retires its own holdings only
    expect("A retires B's rights",
           _post(w, "trader", "/api/v1/retirements",
                 {"asset": i["asset_code"], "amount": "1", "reason": "matrix", "compliance_period": "2026",
                  "organization": i["B"]}, key), {400, 403, 404})
    # a government creates and issues rights of its own area, as itself
    expect("Minhou creates a Xiamen-origin right",
           _post(w, "county", "/api/v1/assets", {"code": f"mx-{_seq()}", "right_type": "emission", "subtype": "SO2",
                                                 "scale": 3, "origin_region": "350203"}), {403},
           "issuer_out_of_jurisdiction")
    expect("Minhou creates a right in the Xiamen district's name",
           _post(w, "county", "/api/v1/assets", {"code": f"mx-{_seq()}", "right_type": "emission", "subtype": "SO2",
                                                 "scale": 3, "origin_region": "350203",
                                                 "issuer": w.orgs["xm_issuer"].id}), {400, 403})
    expect("Minhou issues in the Xiamen district's name",
           _post(w, "county", "/api/v1/issuances", {"asset": i["asset_code"], "recipient": i["A"], "amount": "1",
                                                    "issuer": w.orgs["xm_issuer"].id}, key), {400, 403})
    # an organization's admin adds members to its own organization only
    expect("Minhou's admin adds a member to B",
           _post(w, "county", "/api/v1/memberships", {"organization": i["B"], "role": "admin",
                                                      "username": f"mx-{_seq()}", "password": PASSWORD}),
           {403}, "permission_denied")
    assert not problems, "\n".join(problems)


@pytest.mark.django_db
def test_idempotency_keys_are_per_organization(world):
    """B cancels its order under a key; A sending the same key to the same URL gets a 404, not B's
    stored response."""
    url = reverse("order-cancel", kwargs={"pk": world.ids["order"]})
    headers = {"HTTP_IDEMPOTENCY_KEY": "mx-shared-key"}
    seen = {}

    def then(first):
        seen["owner"] = first.status
        seen["trader"] = world.client("trader").post(url, {}, format="json", **headers).status_code

    _post(world, "owner", url, {}, headers, then=then)
    assert seen == {"owner": 200, "trader": 404}, seen


@pytest.mark.django_db
def test_login_only_for_ones_own_organizations(world, settings, clear_login_throttle):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = world.members["trader"].user
    with transaction.atomic():
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
        client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
        r = client.post("/api/v1/auth/login", {"username": user.username, "password": PASSWORD,
                                               "organization": world.ids["B"]}, format="json")
        assert r.status_code == 403 and r.json()["code"] == "no_membership", r.content
        r = client.post("/api/v1/auth/login", {"username": user.username, "password": PASSWORD}, format="json")
        assert r.status_code == 200 and r.json()["membership"]["organization"]["id"] == world.ids["A"], r.content
        transaction.set_rollback(True)


# --- api16: API conventions over every GET of the matrix (README "API conventions": times) ------------------

# ISO 8601 date-times as whole JSON strings; an offset or Z. Strings that merely contain one (a checkpoint's
# signed body, a canonical memo) are not presentation and keep their own form.
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})")
# presentation exceptions (none: the journal JSON lines present times like the rest; its leaves hash ledger.canonical)
_CANONICAL_TIMES: set[str] = set()


def _times(value, path="$"):
    if isinstance(value, str):
        if _ISO_TIME.fullmatch(value):
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _times(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _times(item, f"{path}[{n}]")


def _reader(name: str) -> str | None:
    """A role allowed to GET `name`, preferring those that see the most (the operator, the province)."""
    allowed = expectation((name, "get"))
    for role in ("operator", "province", "owner_admin", "owner", "party", "trader", "anon"):
        if allowed[role]:
            return role
    return None


@pytest.mark.django_db
def test_every_response_time_is_shanghai_iso8601(world, clear_login_throttle):
    """Every ISO 8601 time in a JSON (or JSON-lines) response of a GET is in Asia/Shanghai with `+08:00`: none in
    UTC `Z` or `+00:00`, serializers and hand-built dicts (dossiers, reports, evidence) alike."""
    seen, problems = 0, []
    for name, method in sorted(MATRIX):
        if method != "get" or (role := _reader(name)) is None:
            continue
        if name.startswith("oversight-export-"):
            r = _call_get(world, role, name, {}, "jsonl")
            r = Result(r.status, r.body)
            docs = [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]
        else:
            r = call(world, role, name, "get")
            try:
                docs = [r.json()]
            except ValueError:
                try:
                    docs = [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]
                except ValueError:
                    continue  # CSV, xlsx
        if name in _CANONICAL_TIMES:
            continue
        for doc in docs:
            for where, value in _times(doc):
                seen += 1
                if not value.endswith("+08:00"):
                    problems.append(f"{name} ({role}) {where} = {value}")
    assert seen > 50, seen  # the walk reached the world's objects
    assert not problems, "times not in +08:00:\n  " + "\n  ".join(problems)
