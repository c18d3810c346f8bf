"""The order book: escrowed limit orders matched price-time under the market row lock, sessions and
market close, and the public market data."""
