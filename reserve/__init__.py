"""The government reserve (收储): which body holds the reserve of which right type, buy-backs (public
buy-back notices that holders tender into), holdings and releases through the existing listing
mechanisms with an optional guided-price floor — see `reserve.services`."""
