"""Listings through the services (time controlled with `now=`): each kind's happy path and settlement,
anti-sniping, closing after a worker outage, second-price sealed bids, expiry, rules; and after every
step the ledger's held balances equal the open listing exposure."""
from datetime import timedelta

import pytest

from accounts.actor import Actor
from core.errors import ApiError
from ledger.models import Account
from trading.listings.services import (
    bid_hold,
    db_now,
    listing_accept,
    listing_bid,
    listing_buy,
    listing_cancel,
    listing_close,
    listing_create,
    listing_reject,
)
from trading.models import Bid, Listing, SettlementOutbox, Trade, TradeEvent
from trading.settlement.services import trade_settle
from trading.tasks.listings import close_due_listings

from tests.support.ledger import balances
from tests.support.listings import CASH, EMISSION_PROVENANCE, FARMLAND_PROVENANCE, YUAN, fee, install_rule

pytestmark = pytest.mark.django_db


def actor(org):
    return Actor(user_id=None, organization_id=org.id, role="trader", organization_kind=org.kind)


def test_fixed_price_partial_purchases_settle_to_the_farmland_fund(lworld, listing_fees):
    w = lworld
    t0 = db_now()
    b1, b2 = w.buyers[:2]
    listing = listing_create(actor=actor(w.county), seller=w.county, kind="fixed_price", asset_id=w.farmland.id,
                             quantity=250_00, price=45_000 * YUAN, divisible=True, min_purchase=50_00,
                             provenance=FARMLAND_PROVENANCE, title="闽侯县 250 亩补充耕地数量指标", now=t0)
    assert listing.hold_remaining == 250_00 and balances(w.county, w.farmland) == (0, 250_00)
    assert listing.fee_bps == 10 and listing.fee_min == 100 * YUAN
    w.check_exposure()

    first = listing_buy(actor=actor(b1), buyer=b1, listing_id=listing.id, quantity=100_00,
                        now=t0 + timedelta(minutes=1))
    t = first.trade
    value = 45_000 * YUAN * 100
    assert (t.source, t.listing_id, t.market_id, t.asset_id) == ("listing", listing.id, None, w.farmland.id)
    assert (t.price, t.quantity, t.value, t.status) == (45_000 * YUAN, 100_00, value, "matched")
    assert t.buyer_fee == t.seller_fee == fee(value)
    assert t.buyer_hold == value + fee(value) and t.seller_hold == 100_00
    assert SettlementOutbox.objects.filter(trade=t, status="pending").exists()
    assert TradeEvent.objects.filter(trade=t, status="matched").exists()
    assert balances(b1, w.cny) == (CASH - value - fee(value), value + fee(value))
    assert (first.listing.remaining, first.listing.hold_remaining, first.listing.status) == (150_00, 150_00, "open")
    w.check_exposure()

    second = listing_buy(actor=actor(b2), buyer=b2, listing_id=listing.id, quantity=150_00,
                         now=t0 + timedelta(minutes=2))
    assert second.listing.status == "closed" and second.listing.hold_remaining == 0
    w.check_exposure()

    for trade in (first.trade, second.trade):
        assert trade_settle(trade_id=trade.id) == "settled"
        w.check_exposure()
    assert balances(b1, w.farmland) == (100_00, 0) and balances(b2, w.farmland) == (150_00, 0)
    assert balances(w.county, w.farmland) == (0, 0)
    assert balances(b1, w.cny) == (CASH - value - fee(value), 0)
    # proceeds of a government's farmland quota go to its earmarked farmland-protection fund
    total = 45_000 * YUAN * 250
    fund = Account.objects.get(organization=w.county, asset=w.cny, kind="earmarked")
    assert fund.available == total - fee(value) - fee(value * 3 // 2)
    assert not SettlementOutbox.objects.filter(trade__listing_id=listing.id, status="pending").exists()


def test_fixed_price_cancel_and_expiry_release_the_rest(lworld):
    w = lworld
    t0 = db_now()
    a = listing_create(actor=actor(w.factory), seller=w.factory, kind="fixed_price", asset_id=w.so2.id,
                       quantity=40_000, price=30_000 * YUAN, divisible=True, provenance=EMISSION_PROVENANCE, now=t0)
    b = listing_create(actor=actor(w.factory), seller=w.factory, kind="fixed_price", asset_id=w.so2.id,
                       quantity=20_000, price=31_000 * YUAN, divisible=True, end_at=t0 + timedelta(hours=1),
                       provenance=EMISSION_PROVENANCE, now=t0)
    assert balances(w.factory, w.so2) == (40_000, 60_000)
    listing_buy(actor=actor(w.buyers[0]), buyer=w.buyers[0], listing_id=b.id, quantity=5_000,
                now=t0 + timedelta(minutes=5))
    w.check_exposure()
    listing_cancel(actor=actor(w.factory), organization=w.factory, listing_id=a.id, now=t0 + timedelta(minutes=6))
    assert balances(w.factory, w.so2) == (80_000, 15_000 + 5_000)
    w.check_exposure()
    assert listing_close(listing_id=b.id, now=t0 + timedelta(minutes=59)).status == "open"  # not due yet
    closed = listing_close(listing_id=b.id, now=t0 + timedelta(hours=1))
    assert (closed.status, closed.remaining, closed.hold_remaining) == ("expired", 15_000, 0)
    assert balances(w.factory, w.so2) == (95_000, 5_000)  # what is left is the unsettled trade's escrow
    w.check_exposure()


def _english(w, t0, **kw):
    terms = dict(quantity=250_00, reserve_price=40_000 * YUAN, min_increment=500 * YUAN,
                 end_at=t0 + timedelta(hours=1), anti_snipe_minutes=5)
    terms.update(kw)
    return listing_create(actor=actor(w.county), seller=w.county, kind="english", asset_id=w.farmland.id,
                          provenance=FARMLAND_PROVENANCE, now=t0, **terms)


def test_english_auction_holds_only_the_best_bid_and_awards_it(lworld, listing_fees):
    w = lworld
    b1, b2, b3 = w.buyers
    t0 = db_now()
    listing = _english(w, t0)
    at = lambda m: t0 + timedelta(minutes=m)  # noqa: E731

    r1 = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=40_000 * YUAN, now=at(1))
    assert r1.bid.hold == bid_hold(listing, 40_000 * YUAN, 2) and balances(b1, w.cny)[1] == r1.bid.hold
    w.check_exposure()
    r2 = listing_bid(actor=actor(b2), bidder=b2, listing_id=listing.id, amount=40_500 * YUAN, now=at(2))
    assert Bid.objects.get(pk=r1.bid.id).status == "outbid" and balances(b1, w.cny) == (CASH, 0)
    w.check_exposure()
    r3 = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=42_000 * YUAN, now=at(3))
    r4 = listing_bid(actor=actor(b3), bidder=b3, listing_id=listing.id, amount=43_000 * YUAN, now=at(4))
    r5 = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=45_000 * YUAN, now=at(10))
    assert [b.status for b in Bid.objects.filter(listing=listing).order_by("id")] == \
        ["outbid", "outbid", "outbid", "outbid", "active"]
    assert {r.extended for r in (r1, r2, r3, r4, r5)} == {False}
    assert balances(b2, w.cny) == (CASH, 0) and balances(b3, w.cny) == (CASH, 0)
    w.check_exposure()

    # the close: before the end it is a no-op; at the end the best bid wins the whole lot
    assert listing_close(listing_id=listing.id, now=at(59)).status == "open"
    closed = listing_close(listing_id=listing.id, now=at(60))
    assert closed.status == "closed" and closed.hold_remaining == 0
    trade = Trade.objects.get(listing_id=listing.id)
    value = 45_000 * YUAN * 250
    assert (trade.source, trade.buyer_id, trade.price, trade.quantity, trade.value) == \
        ("auction", b1.id, 45_000 * YUAN, 250_00, value)
    assert trade.buyer_hold == r5.bid.hold == value + fee(value)
    assert Bid.objects.get(pk=r5.bid.id).status == "won" and Bid.objects.get(pk=r5.bid.id).hold == 0
    w.check_exposure()
    assert listing_close(listing_id=listing.id, now=at(61)).status == "closed"  # idempotent
    assert Trade.objects.filter(listing_id=listing.id).count() == 1

    assert trade_settle(trade_id=trade.id) == "settled"
    assert balances(b1, w.farmland) == (250_00, 0)
    assert balances(b1, w.cny) == (CASH - value - fee(value), 0)
    w.check_exposure()


def test_anti_sniping_extends_the_end(lworld):
    w = lworld
    b1, b2 = w.buyers[:2]
    t0 = db_now()
    listing = _english(w, t0, anti_snipe_minutes=5)
    end = listing.end_at
    r = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=40_000 * YUAN,
                    now=end - timedelta(minutes=10))
    assert not r.extended and Listing.objects.get(pk=listing.id).end_at == end
    r = listing_bid(actor=actor(b2), bidder=b2, listing_id=listing.id, amount=41_000 * YUAN,
                    now=end - timedelta(minutes=2))
    assert r.extended and Listing.objects.get(pk=listing.id).end_at == end + timedelta(minutes=5)
    # the original end has passed, the extended one has not: still open for bids, not due for closing
    assert listing_close(listing_id=listing.id, now=end + timedelta(seconds=30)).status == "open"
    r = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=42_000 * YUAN,
                    now=end + timedelta(minutes=4))
    assert r.extended and Listing.objects.get(pk=listing.id).end_at == end + timedelta(minutes=10)
    snapshot = w.snapshot()
    with pytest.raises(ApiError) as exc:
        listing_bid(actor=actor(b2), bidder=b2, listing_id=listing.id, amount=50_000 * YUAN,
                    now=end + timedelta(minutes=10))
    assert exc.value.code == "auction_ended"
    assert w.snapshot() == snapshot
    closed = listing_close(listing_id=listing.id, now=end + timedelta(minutes=10))
    assert closed.status == "closed"
    assert Trade.objects.get(listing_id=listing.id).buyer_id == b1.id
    w.check_exposure()


def test_close_after_a_worker_outage_decides_by_bid_time(lworld):
    """Bids are placed, the end passes while no worker runs, a late bid is refused, and the close
    task runs much later: the winner is the best bid placed before the end."""
    w = lworld
    b1, b2, b3 = w.buyers
    now = db_now()
    t0 = now - timedelta(hours=3)
    english = _english(w, t0, quantity=100_00, anti_snipe_minutes=0, end_at=now - timedelta(hours=1))
    sealed = listing_create(actor=actor(w.county), seller=w.county, kind="sealed", asset_id=w.farmland.id,
                            quantity=100_00, reserve_price=40_000 * YUAN, end_at=now - timedelta(hours=1),
                            provenance=FARMLAND_PROVENANCE, now=t0)
    listing_bid(actor=actor(b1), bidder=b1, listing_id=english.id, amount=41_000 * YUAN, now=t0 + timedelta(minutes=5))
    listing_bid(actor=actor(b2), bidder=b2, listing_id=english.id, amount=42_000 * YUAN, now=t0 + timedelta(hours=1))
    # sealed: a tie between b3 (earlier) and b1 (later); b2 lower
    listing_bid(actor=actor(b3), bidder=b3, listing_id=sealed.id, amount=44_000 * YUAN, now=t0 + timedelta(minutes=30))
    listing_bid(actor=actor(b1), bidder=b1, listing_id=sealed.id, amount=44_000 * YUAN, now=t0 + timedelta(minutes=40))
    listing_bid(actor=actor(b2), bidder=b2, listing_id=sealed.id, amount=43_000 * YUAN, now=t0 + timedelta(minutes=50))
    w.check_exposure()

    # the end has passed, nobody closed the auctions: a bid now (database time) is refused, nothing held
    snapshot = w.snapshot()
    for listing in (english, sealed):
        with pytest.raises(ApiError) as exc:
            listing_bid(actor=actor(b3), bidder=b3, listing_id=listing.id, amount=60_000 * YUAN)
        assert exc.value.code == "auction_ended"
    assert w.snapshot() == snapshot and Listing.objects.get(pk=english.id).status == "open"

    # the worker is back: beat's close task runs with the real clock
    assert close_due_listings() >= 2
    e, s = Listing.objects.get(pk=english.id), Listing.objects.get(pk=sealed.id)
    assert e.status == s.status == "closed"
    assert Trade.objects.get(listing_id=english.id).buyer_id == b2.id
    sealed_trade = Trade.objects.get(listing_id=sealed.id)
    assert sealed_trade.buyer_id == b3.id and sealed_trade.price == 44_000 * YUAN  # tie: the earlier bid
    assert set(Bid.objects.filter(listing=sealed).values_list("status", flat=True)) == {"won", "lost"}
    assert balances(b1, w.cny)[1] == 0 and balances(b2, w.cny)[1] == Trade.objects.get(listing_id=english.id).buyer_hold
    w.check_exposure()
    # still refused after the close, and closing again changes nothing
    with pytest.raises(ApiError) as exc:
        listing_bid(actor=actor(b3), bidder=b3, listing_id=english.id, amount=60_000 * YUAN)
    assert exc.value.code == "auction_ended"
    assert close_due_listings() == 0
    for trade in Trade.objects.filter(listing_id__in=[english.id, sealed.id]):
        assert trade_settle(trade_id=trade.id) == "settled"
    w.check_exposure()


def test_sealed_second_price_refunds_the_difference_and_releases_losers(lworld, listing_fees):
    w = lworld
    b1, b2, b3 = w.buyers
    t0 = db_now()
    listing = listing_create(actor=actor(w.factory), seller=w.factory, kind="sealed", asset_id=w.so2.id,
                             quantity=50_000, reserve_price=28_000 * YUAN, second_price=True,
                             end_at=t0 + timedelta(hours=3), provenance=EMISSION_PROVENANCE, now=t0)
    at = lambda m: t0 + timedelta(minutes=m)  # noqa: E731
    first = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=30_000 * YUAN, now=at(1)).bid
    listing_bid(actor=actor(b2), bidder=b2, listing_id=listing.id, amount=32_500 * YUAN, now=at(2))
    listing_bid(actor=actor(b3), bidder=b3, listing_id=listing.id, amount=29_000 * YUAN, now=at(3))
    # b1 revises its sealed bid: the old one is withdrawn and its hold released
    revised = listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=34_000 * YUAN, now=at(4)).bid
    assert Bid.objects.get(pk=first.id).status == "withdrawn"
    assert balances(b1, w.cny)[1] == revised.hold
    w.check_exposure()

    listing_close(listing_id=listing.id, now=at(180))
    trade = Trade.objects.get(listing_id=listing.id)
    value = 32_500 * YUAN * 50  # pays the second-highest bid
    assert (trade.buyer_id, trade.price, trade.value, trade.buyer_fee) == (b1.id, 32_500 * YUAN, value, fee(value))
    assert trade.buyer_hold == revised.hold > value + fee(value)
    assert balances(b2, w.cny) == (CASH, 0) and balances(b3, w.cny) == (CASH, 0)
    w.check_exposure()
    assert trade_settle(trade_id=trade.id) == "settled"
    assert balances(b1, w.cny) == (CASH - value - fee(value), 0)  # the rest of the hold came back
    assert balances(b1, w.so2) == (50_000, 0)
    assert balances(w.factory, w.cny) == (value - fee(value), 0)
    w.check_exposure()


def test_sealed_second_price_with_one_bid_pays_the_reserve(lworld):
    w = lworld
    t0 = db_now()
    listing = listing_create(actor=actor(w.factory), seller=w.factory, kind="sealed", asset_id=w.so2.id,
                             quantity=10_000, reserve_price=28_000 * YUAN, second_price=True,
                             end_at=t0 + timedelta(hours=1), provenance=EMISSION_PROVENANCE, now=t0)
    listing_bid(actor=actor(w.buyers[0]), bidder=w.buyers[0], listing_id=listing.id, amount=31_000 * YUAN,
                now=t0 + timedelta(minutes=1))
    listing_close(listing_id=listing.id, now=t0 + timedelta(hours=1))
    assert Trade.objects.get(listing_id=listing.id).price == 28_000 * YUAN


def test_unsold_auction_releases_the_seller(lworld):
    w = lworld
    t0 = db_now()
    listing = _english(w, t0)
    assert listing_close(listing_id=listing.id, now=t0 + timedelta(hours=2)).status == "unsold"
    assert balances(w.county, w.farmland) == (250_00, 0)
    w.check_exposure()


def test_negotiated_accept_reject_and_expiry(lworld, listing_fees):
    w = lworld
    b1, b2 = w.buyers[:2]
    t0 = db_now()

    def offer(buyer, quantity):
        return listing_create(actor=actor(w.factory), seller=w.factory, kind="negotiated", asset_id=w.so2.id,
                              quantity=quantity, price=29_000 * YUAN, named_buyer_id=buyer.id,
                              end_at=t0 + timedelta(days=2), provenance=EMISSION_PROVENANCE, now=t0)

    accepted, rejected, lapsed = offer(b1, 20_000), offer(b2, 10_000), offer(b2, 5_000)
    assert balances(w.factory, w.so2) == (65_000, 35_000)
    w.check_exposure()
    with pytest.raises(ApiError) as exc:
        listing_accept(actor=actor(b2), buyer=b2, listing_id=accepted.id, now=t0 + timedelta(hours=1))
    assert exc.value.code == "not_named_buyer"

    result = listing_accept(actor=actor(b1), buyer=b1, listing_id=accepted.id, now=t0 + timedelta(hours=1))
    value = 29_000 * YUAN * 20
    assert (result.trade.source, result.trade.value, result.trade.buyer_hold) == \
        ("negotiated", value, value + fee(value))
    assert result.listing.status == "closed"
    w.check_exposure()
    listing_reject(actor=actor(b2), buyer=b2, listing_id=rejected.id, reason="价格过高", now=t0 + timedelta(hours=2))
    assert Listing.objects.get(pk=rejected.id).status == "rejected"
    with pytest.raises(ApiError) as exc:
        listing_accept(actor=actor(b2), buyer=b2, listing_id=lapsed.id, now=t0 + timedelta(days=2))
    assert exc.value.code == "listing_ended"
    assert listing_close(listing_id=lapsed.id, now=t0 + timedelta(days=2)).status == "expired"
    assert balances(w.factory, w.so2) == (80_000, 20_000)
    w.check_exposure()
    assert trade_settle(trade_id=result.trade.id) == "settled"
    assert balances(b1, w.so2) == (20_000, 0) and balances(w.factory, w.so2) == (80_000, 0)
    w.check_exposure()


def test_rules_refuse_or_send_trades_to_approval(lworld):
    w = lworld
    b1, b2 = w.buyers[:2]
    t0 = db_now()
    install_rule(stages=["trade"], buyer=b2.id, approval=True)
    listing = listing_create(actor=actor(w.factory), seller=w.factory, kind="fixed_price", asset_id=w.so2.id,
                             quantity=20_000, price=30_000 * YUAN, divisible=True, provenance=EMISSION_PROVENANCE,
                             now=t0)
    assert listing.rule_version is not None
    pending = listing_buy(actor=actor(b2), buyer=b2, listing_id=listing.id, quantity=5_000, now=t0).trade
    assert pending.status == "pending_approval" and pending.rule_version == listing.rule_version
    assert not SettlementOutbox.objects.filter(trade=pending).exists()
    w.check_exposure()  # its escrow is held all the same

    install_rule(stages=["bid", "listing"], buyer=b1.id)
    auction = _english(w, t0)
    snapshot = w.snapshot()
    with pytest.raises(ApiError) as exc:
        listing_bid(actor=actor(b1), bidder=b1, listing_id=auction.id, amount=41_000 * YUAN, now=t0)
    assert exc.value.code == "T-LISTING-001"
    assert w.snapshot() == snapshot


def test_auction_winner_refused_by_the_trade_rules_is_skipped(lworld):
    w = lworld
    b1, b2 = w.buyers[:2]
    t0 = db_now()
    install_rule(stages=["trade"], buyer=b1.id)
    listing = listing_create(actor=actor(w.county), seller=w.county, kind="sealed", asset_id=w.farmland.id,
                             quantity=100_00, reserve_price=40_000 * YUAN, end_at=t0 + timedelta(hours=1),
                             provenance=FARMLAND_PROVENANCE, now=t0)
    listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=50_000 * YUAN, now=t0)
    listing_bid(actor=actor(b2), bidder=b2, listing_id=listing.id, amount=45_000 * YUAN, now=t0)
    listing_close(listing_id=listing.id, now=t0 + timedelta(hours=1))
    assert Trade.objects.get(listing_id=listing.id).buyer_id == b2.id
    assert balances(b1, w.cny) == (CASH, 0)
    w.check_exposure()


def test_an_instrument_that_expired_during_the_auction_is_not_awarded(lworld):
    from ledger.models import Asset

    w = lworld
    b1 = w.buyers[0]
    t0 = db_now()
    listing = _english(w, t0)
    listing_bid(actor=actor(b1), bidder=b1, listing_id=listing.id, amount=40_000 * YUAN, now=t0)
    Asset.objects.filter(pk=w.farmland.id).update(valid_to=t0.date() - timedelta(days=1))
    closed = listing_close(listing_id=listing.id, now=t0 + timedelta(hours=1))
    assert closed.status == "expired" and not Trade.objects.filter(listing_id=listing.id).exists()
    assert Bid.objects.get(listing=listing).status == "lost"
    assert balances(b1, w.cny) == (CASH, 0) and balances(w.county, w.farmland) == (250_00, 0)
    w.check_exposure()
