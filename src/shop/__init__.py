"""shop: an order-system backend (hexagonal Flask service)."""
