"""The baseline app for benchmarks: a bare FastAPI hello app (served by uvicorn or Mangum)."""

from fastapi import FastAPI

app = FastAPI()


@app.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}
