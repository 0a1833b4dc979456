"""Rendering: HTML pages (Jinja2) and, later, PDFs."""

from service.render.pages import flash, redirect, render_error, render_page

__all__ = ["flash", "redirect", "render_error", "render_page"]
