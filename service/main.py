"""ASGI entry point for uvicorn: ``service.main:app``."""

import gc

from service.app import create_app

app = create_app()

# A serving process keeps what it loaded at start (models, lexicon, automaton, routes) until it exits.
# Frozen objects are left out of the collector's full passes, which otherwise walk all of it (100 ms pauses).
gc.collect()
gc.freeze()
