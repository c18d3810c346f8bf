"""Settlement queues: `settle.<n>` by a stable hash of the market (or listing) id, so one market's
settlements stay in order on one queue while other markets settle in parallel on other workers."""
from django.conf import settings


def settlement_queue(market_id: int | None, listing_id: int | None = None) -> str:
    key = market_id if market_id is not None else (listing_id or 0)
    return f"settle.{key % settings.SETTLEMENT_QUEUES}"


def all_queues() -> list[str]:
    return ["default"] + [f"settle.{n}" for n in range(settings.SETTLEMENT_QUEUES)]
