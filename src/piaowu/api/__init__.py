"""The JSON API under /api/v1: thin routers over the services."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from piaowu.api import errors, openapi_doc
from piaowu.api.responses import OrjsonResponse
from piaowu.core.errors import DomainError

API_DESCRIPTION = """
Piaowu's JSON API. Authenticate with `Authorization: Bearer pw_…` (API tokens are created in the back office
or with `piaowu create-token`). Errors are `application/problem+json` with a stable `code`; see the
*Errors* section of `docs/api.md`. POSTs that create orders, payments or refunds accept an
`Idempotency-Key` header: the same key with the same body returns the first answer again.
Lists use cursor pagination: pass the `next_cursor` of one page as `cursor` to get the next.
"""


def create_api() -> FastAPI:
    from piaowu.api.deps import enforce_route
    from piaowu.api.docs_page import api_docs
    from piaowu.api.v1 import router

    api = FastAPI(
        title="Piaowu API",
        version="1",
        description=API_DESCRIPTION,
        openapi_url="/v1/openapi.json",
        docs_url=None,  # our own page, from our own files (api/docs_page.py)
        redoc_url=None,
        default_response_class=OrjsonResponse,
        # Every route's access rule (accounts/access.py) is checked before its own dependencies and body.
        dependencies=[Depends(enforce_route)],
    )
    api.include_router(router, prefix="/v1")
    api.add_api_route("/v1/docs", api_docs, methods=["GET"], include_in_schema=False)
    openapi_doc.install(api, mount="/api")
    api.add_exception_handler(DomainError, errors.domain_problem)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, errors.validation_problem)  # type: ignore[arg-type]
    api.add_exception_handler(StarletteHTTPException, errors.http_problem)  # type: ignore[arg-type]
    # Handled here (not by the catch-all below, which re-raises to the server's log) because they are answers.
    # StatementError, not only DBAPIError: a value refused while binding (a datetime that overflows converting to
    # UTC) is a StatementError too. Answered here, such errors never reach the server's catch-all, which would
    # log them as unhandled and re-raise them to the server after answering.
    api.add_exception_handler(StatementError, errors.database_problem)
    api.add_exception_handler(OverflowError, errors.database_problem)
    api.add_exception_handler(Exception, errors.unexpected_problem)
    return api
