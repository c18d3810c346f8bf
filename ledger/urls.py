"""Ledger API routes, mounted under /api/v1/ (see ledger.views for the contract)."""
from django.urls import path

from . import views

urlpatterns = [
    path("holdings", views.HoldingsView.as_view(), name="ledger-holdings"),
    path("statements", views.StatementsView.as_view(), name="ledger-statements"),
    path("transactions/<int:pk>", views.TransactionDetailView.as_view(), name="ledger-transaction"),
    path("checkpoints", views.CheckpointListView.as_view(), name="ledger-checkpoints"),
    path("checkpoints/public-keys", views.SigningKeyListView.as_view(), name="ledger-public-keys"),
    path("checkpoints/consistency", views.ConsistencyView.as_view(), name="ledger-consistency"),
    path("ledger/verifications", views.VerificationStartView.as_view(), name="ledger-verifications"),
    path("ledger/verifications/<int:pk>", views.VerificationDetailView.as_view(), name="ledger-verification"),
    path("assets", views.AssetListCreateView.as_view(), name="ledger-assets"),
    path("cash/deposits", views.DepositView.as_view(), name="ledger-deposits"),
    path("cash/withdrawals", views.WithdrawalView.as_view(), name="ledger-withdrawals"),
    path("issuances", views.IssuanceView.as_view(), name="ledger-issuances"),
    path("transfers", views.TransferView.as_view(), name="ledger-transfers"),
    path("movement-requests", views.MovementListView.as_view(), name="ledger-movements"),
    path("movement-requests/<int:pk>", views.MovementDetailView.as_view(), name="ledger-movement"),
    path("movement-requests/<int:pk>/confirm", views.MovementConfirmView.as_view(), name="ledger-movement-confirm"),
    path("movement-requests/<int:pk>/reject", views.MovementRejectView.as_view(), name="ledger-movement-reject"),
    path("retirements", views.RetirementView.as_view(), name="ledger-retirements"),
    path("expirations", views.ExpirationView.as_view(), name="ledger-expirations"),
    path("register/holdings", views.RegisterHoldingsView.as_view(), name="ledger-register-holdings"),
    path("register/conservation", views.ConservationView.as_view(), name="ledger-register-conservation"),
    path("exports/journal.csv", views.JournalCsvView.as_view(), name="ledger-export-csv"),
    path("exports/journal.xlsx", views.JournalCsvView.as_view(fmt="xlsx"), name="ledger-export-xlsx"),
    path("exports/journal.jsonl", views.JournalJsonLinesView.as_view(), name="ledger-export-jsonl"),
]
