"""The floor for bench/ingest.py: a FastAPI endpoint that only reads the body and answers 202."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/webhooks/{source}")
async def receive(source: str, request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"id": source, "size": len(body)}, status_code=202)
