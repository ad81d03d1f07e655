"""The HTTP routes, built per replica around its service object (predictor + request log).

Built at replica start (`__serve_build_asgi_app__`), so the routes close over typed settings
instead of reading globals, and importing this module does nothing.
"""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from creditrisk.applicants.schema import Applicant
from creditrisk.store.request_ids import id_for
from creditrisk.store.rows import STORE_TIME_RANGE
from serving.api_models import (
    PREDICT_EXAMPLES,
    ErrorOut,
    OutcomeBatchIn,
    OutcomeBatchOut,
    OutcomeIn,
    OutcomeOut,
    PredictResponse,
    ReadyOut,
)
from serving.config import ServiceArgs
from serving.errors import BodyLimit, install_error_handlers
from serving.health import public
from serving.limits import ClientRateLimit
from serving.logger import LogRefused
from serving.replica import Replica
from serving.web import SecuredAPI, add_browser_pages

# HTTPBearer documents the scheme in /openapi.json (the Authorize button of /docs); with auto_error
# off the answers stay ours (503 unconfigured, 401 with WWW-Authenticate). At module level because
# the routes' annotations are resolved in this module's namespace.
BEARER = HTTPBearer(auto_error=False, description="the outcomes token ($CREDITRISK_OUTCOMES_TOKEN)")
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "malformed JSON, or a refused X-Request-Time header"},
    413: {"model": ErrorOut, "description": "body larger than the configured limit"},
    422: {"model": ErrorOut, "description": "invalid or missing fields: field, value and rule for each"},
}
_PREDICT_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    429: {"model": ErrorOut, "description": "too many requests from this client: a token bucket per client "
          "(address, or /64 for IPv6) and per replica; nothing was scored or logged",
          "headers": {"Retry-After": {"description": "seconds until the client may ask again",
                                      "schema": {"type": "integer", "minimum": 1}}}},
    503: {"model": ErrorOut, "description": "the decision could not be logged (request log "
          "unwritable, or over its disk budget with when_log_full=refuse): retry later"}}


def request_time(args: ServiceArgs, request: Request) -> datetime:
    """Now, or the simulated time of `X-Request-Time` when the app allows client time (else 400)."""
    raw = request.headers.get("x-request-time")
    if raw is None:
        return datetime.now(UTC)
    if not args.allow_client_time:
        raise HTTPException(400, "X-Request-Time is refused: "
                            "this service was built with allow_client_time=False")
    try:
        ts = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise HTTPException(400, f"X-Request-Time must be an ISO-8601 timestamp, got {raw[:64]!r}") from None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if not STORE_TIME_RANGE[0] <= ts < STORE_TIME_RANGE[1]:  # the store could not keep the row
        raise HTTPException(400, f"X-Request-Time must be in [{STORE_TIME_RANGE[0]:%Y-%m-%d}, "
                            f"{STORE_TIME_RANGE[1]:%Y-%m-%d}), got {raw[:64]!r}")
    return ts


def build_api(svc: Replica) -> FastAPI:
    """The routes of one replica, closing over its state."""
    api = SecuredAPI(title="creditrisk loan pre-approval", version="1",
                  description="Probability of default for a loan application, the pre-approval decision "
                  "and, for denials, the main reasons. Money in currency units, lengths in years.",
                  docs_url=None, redoc_url=None)  # /docs is served from this app (serving.web)
    install_error_handlers(api)
    api.add_middleware(BodyLimit, max_bytes=svc.args.max_body_bytes,
                       path_limits={"/outcomes/batch": svc.args.max_batch_body_bytes})
    if svc.rate_limit.enabled:  # outside BodyLimit: an over-budget client's body is never read
        api.add_middleware(ClientRateLimit, limit=svc.rate_limit)

    def is_staff(credentials: HTTPAuthorizationCredentials | None) -> bool:
        return credentials is not None and svc.token_matches(credentials.credentials.strip())

    @api.post("/predict", response_model=PredictResponse, responses=_PREDICT_ERRORS, tags=["scoring"])
    async def predict(request: Request,
                      applicant: Annotated[Applicant, Body(openapi_examples=PREDICT_EXAMPLES)],
                      credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
                      ) -> JSONResponse:
        """The decision and a denial's reasons; the probability of default, the threshold and each
        reason's contribution only with the staff (outcomes) token."""
        # Exact scores for anyone would map the model's surface, and walk an application to just under
        # the threshold, in a few questions; a decision alone says only which side it fell.
        ts = request_time(svc.args, request)
        row = applicant.to_row()  # loan_percent_income as the server computes it
        s = await svc.predictor.score(row)
        loaded, request_id = s.loaded, id_for(ts)  # the id carries the request's time: see request_ids
        decision = s.decision
        body: dict[str, Any] = {"request_id": request_id, "prediction": s.prediction, "decision": decision}
        reasons: list[Any] = [{"code": r["code"], "text": r["text"]} for r in s.reasons]
        if is_staff(credentials):
            body.update(probability_of_default=s.probability, threshold=loaded.model.threshold)
            reasons = s.reasons
        body.update(model={"name": loaded.name, "version": loaded.version}, reasons=reasons)
        latency_ms = (time.perf_counter() - request.state.t0) * 1000.0
        record = {**row, "request_id": request_id, "ts": ts, "probability": s.probability,
                  "prediction": s.prediction, "decision": decision, "threshold": loaded.model.threshold,
                  "model_name": loaded.name, "model_version": loaded.version,
                  "reasons": json.dumps([r["code"] for r in s.reasons]), "latency_ms": latency_ms}
        try:
            await svc.logger.record(record)  # the answer leaves only once the decision is on disk
        except LogRefused as exc:
            raise HTTPException(503, f"decision not made: {exc}", headers={"Retry-After": "5"}) from None
        svc.decided(decision, str(loaded.version), s.probability)
        return JSONResponse(body)

    async def require_token(
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None) -> None:
        if svc.outcomes_token is None:
            raise HTTPException(503, "outcome reporting is not configured "
                                f"(set {svc.args.outcomes_token_env})")
        if credentials is None or not svc.token_matches(credentials.credentials.strip()):
            raise HTTPException(401, "a valid bearer token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    @api.post("/outcomes", response_model=OutcomeOut, dependencies=[Depends(require_token)],
              tags=["outcomes"],
              responses={**_ERRORS, 401: {"model": ErrorOut, "description": "missing or wrong bearer token"},
                         404: {"model": ErrorOut, "description": "no request with this request_id"}})
    async def outcomes(request: Request, outcome: OutcomeIn) -> OutcomeOut:
        """Record the observed outcome of an earlier /predict (the latest report per request wins)."""
        reported_at = request_time(svc.args, request)
        if not await svc.is_known(outcome.request_id):
            raise HTTPException(404, f"unknown request_id {outcome.request_id!r}")
        row = {"request_id": outcome.request_id, "loan_status": outcome.loan_status,
               "reported_at": reported_at}
        await svc.append_outcomes_counted([row])
        return OutcomeOut(request_id=outcome.request_id, loan_status=outcome.loan_status,
                          reported_at=reported_at.isoformat())

    @api.post("/outcomes/batch", response_model=OutcomeBatchOut, dependencies=[Depends(require_token)],
              tags=["outcomes"], responses={**_ERRORS, 401: {"model": ErrorOut, "description": "bad token"},
                                            404: {"model": ErrorOut, "description": "unknown request_ids"}})
    async def outcomes_batch(request: Request, batch: OutcomeBatchIn) -> OutcomeBatchOut:
        """Record many outcomes at once (all or none: any unknown request_id refuses the batch)."""
        reported_at = request_time(svc.args, request)
        ids = [o.request_id for o in batch.outcomes]
        unknown = await svc.unknown_ids(ids)
        if unknown:
            raise HTTPException(404, f"{len(unknown)} unknown request_id(s), e.g. {sorted(unknown)[:3]}")
        rows = [{"request_id": o.request_id, "loan_status": o.loan_status, "reported_at": reported_at}
                for o in batch.outcomes]
        await svc.append_outcomes_counted(rows)
        return OutcomeBatchOut(recorded=len(rows), reported_at=reported_at.isoformat())

    @api.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is up (no dependency is checked)."""
        return {"status": "ok"}

    @api.get("/readyz", tags=["operations"], response_model=ReadyOut,
             responses={503: {"model": ReadyOut, "description": "unready: no model to answer with"}})
    async def readyz(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
                     ) -> JSONResponse:
        """The answering replica's status and one section per part (model, registry, request_log, store):
        `ready`; `degraded` while a part fails but /predict still answers; `unready` (503) without a model.
        Each part's errors and details only with the outcomes token; without it, its state and since."""
        body = svc.readiness()
        if not is_staff(credentials):
            body = public(body)
        return JSONResponse(body, status_code=503 if body["status"] == "unready" else 200)

    add_browser_pages(api)
    return api
