"""HTTP routes of the briefs domain."""

from fastapi import APIRouter

router = APIRouter()
pages_router = APIRouter()
