"""One module per harness; :data:`fuzz.engine.HARNESSES` lists them."""
