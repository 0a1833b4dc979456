"""HTTP routes of the outbound domain."""

from fastapi import APIRouter

router = APIRouter()
pages_router = APIRouter()
