"""Inventory tables: products, lots, the movement ledger, batches and alerts."""
