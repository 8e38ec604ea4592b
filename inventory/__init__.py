"""What is on the shelf: products, lots, the stock ledger, FEFO, opened vials, recalls,
compounding, forecast and alerts."""
