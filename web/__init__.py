"""cardsim web layer: the Flask composition root."""
