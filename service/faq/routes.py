"""HTTP routes of the faq domain."""

from fastapi import APIRouter

router = APIRouter()
pages_router = APIRouter()
