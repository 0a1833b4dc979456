"""HTTP routes of the escalation domain."""

from fastapi import APIRouter

router = APIRouter()
pages_router = APIRouter()
