"""Pure protocol codecs: bytes in, typed objects out and back. No sockets, threads or asyncio."""
