"""Listings and auctions (挂牌): fixed price, English and sealed-bid auctions, negotiated transfers."""
