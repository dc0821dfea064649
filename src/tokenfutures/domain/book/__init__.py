"""The order book: orders, price levels and the two sides of a book."""
