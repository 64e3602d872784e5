"""The API gateway that runs on AWS Lambda (``gateway.handler.handler``) or locally (``gateway.app:app``).

Import-light on purpose: modules import what they need lazily so a cold start pays only for
what the first request uses.
"""
