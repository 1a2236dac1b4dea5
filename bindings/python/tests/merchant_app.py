"""A FastAPI merchant guarded by kya, run under uvicorn by the tests: `POST /pay` behind the
ASGI middleware, `GET /catalog` through the FastAPI dependency. Configured by environment:
KYA_POLICY (policy file), KYA_AUTHORITY (host:port agents sign for)."""

import os
from typing import Annotated

from fastapi import Depends, FastAPI, Request

import kya
import kya.asgi
import kya.fastapi

verifier = kya.Verifier(kya.Policy.load(os.environ["KYA_POLICY"]))
gate = kya.Gate(
    verifier,
    authority=os.environ["KYA_AUTHORITY"],
    scheme="http",
    routes=[("POST", "/pay", "payments/send"), ("GET", "/catalog", "catalog/read")],
)

app = FastAPI()
app.add_middleware(kya.asgi.KyaMiddleware, gate=gate, paths=["/pay"])
kya.fastapi.install(app)
Agent = Annotated[kya.GateOutcome, Depends(kya.fastapi.agent(gate))]


@app.post("/pay")
async def pay(request: Request) -> dict:
    outcome = request.state.kya
    return {
        "paid": outcome.amount,
        "agent": outcome.agent.agent,
        "principal": outcome.agent.principal,
        "body": (await request.body()).decode(),
    }


@app.get("/catalog")
def catalog(agent: Agent) -> dict:
    return {"items": ["book", "pen"], "agent": agent.agent.agent}
