"""HTTP routes of the digest domain."""

from fastapi import APIRouter

router = APIRouter()
pages_router = APIRouter()
