"""moto's WSGI app, for serving with uvicorn (`--interface wsgi`) in benchmarks.

moto's own werkzeug server answers every request with ``Connection: close``; real DynamoDB
keeps connections alive. Served by uvicorn, moto keeps them alive too, so the gateway's cost
per request is measured with connection reuse, as in production.
"""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
