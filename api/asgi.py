"""The ASGI entry point for `linli serve` workers (and any ASGI server): `api.asgi:app`."""

from api.app import create_app

app = create_app()
