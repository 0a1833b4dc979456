"""Subscriptions API (scope `admin`): who receives Relay's outbound events, and the log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from service.auth.tokens import Principal
from service.deps import AdminPrincipal, SessionDep, SettingsDep
from service.outbound import service as outbound_service
from service.outbound.schemas import (
    DeliveryList,
    DeliveryOut,
    DisableIn,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionList,
    SubscriptionOut,
)

router = APIRouter(prefix="/api/v1/subscriptions", tags=["subscriptions"])
pages_router = APIRouter()


def _actor(principal: Principal) -> str:
    return f"{principal.kind}:{principal.user_id or principal.id}"


@router.post("", status_code=201)
def create_subscription(
    data: SubscriptionIn, session: SessionDep, settings: SettingsDep, principal: AdminPrincipal
) -> SubscriptionCreated:
    """Subscribe a URL to event types; the answer carries the `whsec_` secret, once."""
    subscription = outbound_service.create(
        session,
        url=data.url,
        event_types=data.event_types,
        description=data.description,
        actor=_actor(principal),
        allow_private=settings.outbound_allow_private,
    )
    session.flush()
    return SubscriptionCreated.model_validate(subscription)


@router.get("")
def list_subscriptions(session: SessionDep, _: AdminPrincipal) -> SubscriptionList:
    """Every subscription (secrets are never shown again)."""
    items = outbound_service.list_all(session)
    return SubscriptionList(items=[SubscriptionOut.model_validate(s) for s in items])


@router.get("/{subscription_id}")
def get_subscription(
    subscription_id: str, session: SessionDep, _: AdminPrincipal
) -> SubscriptionOut:
    """One subscription."""
    subscription = outbound_service.get(session, subscription_id=subscription_id)
    return SubscriptionOut.model_validate(subscription)


@router.delete("/{subscription_id}", status_code=204)
def delete_subscription(subscription_id: str, session: SessionDep, _: AdminPrincipal) -> Response:
    """Remove a subscription and its delivery log."""
    outbound_service.delete(session, subscription_id=subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/disable")
def disable_subscription(
    subscription_id: str,
    session: SessionDep,
    principal: AdminPrincipal,
    data: DisableIn | None = None,
) -> SubscriptionOut:
    """Stop deliveries (kept until re-enabled); pending messages are skipped."""
    reason = (data.reason if data else None) or f"disabled by {_actor(principal)}"
    subscription = outbound_service.disable(session, subscription_id=subscription_id, reason=reason)
    return SubscriptionOut.model_validate(subscription)


@router.post("/{subscription_id}/enable")
def enable_subscription(
    subscription_id: str, session: SessionDep, settings: SettingsDep, _: AdminPrincipal
) -> SubscriptionOut:
    """Deliver again (the URL is checked again); new events only, nothing missed is replayed."""
    subscription = outbound_service.enable(
        session, subscription_id=subscription_id, allow_private=settings.outbound_allow_private
    )
    return SubscriptionOut.model_validate(subscription)


@router.get("/{subscription_id}/deliveries")
def list_deliveries(
    subscription_id: str,
    session: SessionDep,
    _: AdminPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> DeliveryList:
    """The delivery log, newest first: attempt, status code, duration, error, what followed."""
    rows = outbound_service.deliveries(
        session, subscription_id=subscription_id, limit=limit, before=before
    )
    return DeliveryList(
        items=[DeliveryOut.model_validate(d) for d in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )
