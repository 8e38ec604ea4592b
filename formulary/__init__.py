"""What serums are: substances and their classes, contained allergens, cross-reactivity groups,
versioned serum formulas, and the safety screen."""
