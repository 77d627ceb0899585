from tests.bus.nats_server import js_config, nats_url

__all__ = ["js_config", "nats_url"]
