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
    path("ledger/verify", views.VerifyView.as_view(), name="ledger-verify"),
    path("assets", views.AssetListCreateView.as_view(), name="ledger-assets"),
    path("cash/deposits", views.DepositView.as_view(), name="ledger-deposits"),
    path("cash/withdrawals", views.WithdrawalView.as_view(), name="ledger-withdrawals"),
    path("issuances", views.IssuanceView.as_view(), name="ledger-issuances"),
    path("transfers", views.TransferView.as_view(), name="ledger-transfers"),
    path("retirements", views.RetirementView.as_view(), name="ledger-retirements"),
    path("expirations", views.ExpirationView.as_view(), name="ledger-expirations"),
    path("exports/journal.csv", views.JournalCsvView.as_view(), name="ledger-export-csv"),
    path("exports/journal.jsonl", views.JournalJsonLinesView.as_view(), name="ledger-export-jsonl"),
]
