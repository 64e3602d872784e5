"""The embedded local account: moto server + the gateway under uvicorn, on 127.0.0.1."""
