"""moto's WSGI app, for serving with uvicorn (`--interface wsgi`) in benchmarks.

moto's own werkzeug server answers every request with ``Connection: close``; real DynamoDB
keeps connections alive. Served by uvicorn, moto keeps them alive too, so the gateway's cost
per request is measured with connection reuse, as in production. Requests are applied one at a
time: moto's conditional UpdateItem is read-check-write without a lock and loses increments
under concurrency, while DynamoDB applies each conditional write atomically.
"""

import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_moto = DomainDispatcherApplication(create_backend_app)
_lock = threading.Lock()


def app(environ, start_response):  # WSGI
    with _lock:
        return list(_moto(environ, start_response))
