"""cardsim web layer: the Flask composition root (`web.app.create_app`)."""
