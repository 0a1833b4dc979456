"""HTTP routes of the exports domain."""

from fastapi import APIRouter

router = APIRouter()
pages_router = APIRouter()
