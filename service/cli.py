"""The `relay` command: serve, worker, migrate, events, and the domain sub-commands."""

from __future__ import annotations

import json
import os
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from service import migrate as migrations
from service.auth.cli import tokens_app, users_app
from service.config import Settings, get_settings
from service.content.cli import docs_app
from service.db import Database
from service.digest.cli import digest_app
from service.exports.cli import export_app
from service.faq.cli import faq_app
from service.inbox import service as inbox_service
from service.inbox.models import EventStatus
from service.themes.cli import themes_app

if TYPE_CHECKING:
    from service.worker.helper import PrepareHelper

app = typer.Typer(help="Relay: merchant feedback for Customer Success.", no_args_is_help=True)
events_app = typer.Typer(help="Inspect and replay inbox events.", no_args_is_help=True)
model_app = typer.Typer(help="Train and evaluate the ticket classifier.", no_args_is_help=True)
feedback_app = typer.Typer(help="Maintain feedback records.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(model_app, name="model")
app.add_typer(feedback_app, name="feedback")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(themes_app, name="themes")
app.add_typer(docs_app, name="docs")
app.add_typer(faq_app, name="faq")
app.add_typer(export_app, name="export")
app.add_typer(digest_app, name="digest")


def _database() -> Database:
    return Database(get_settings().database_url)


@app.command()
def migrate() -> None:
    """Apply database migrations (Alembic) up to the newest."""
    url = get_settings().database_url
    migrations.upgrade(url)
    typer.echo(f"database at {migrations.head_revision(url)}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    no_worker: Annotated[bool, typer.Option("--no-worker", help="API only")] = False,
) -> None:
    """Run the API (and, unless --no-worker, the worker in the same process)."""
    import uvicorn

    from service.app import create_app

    application = create_app(get_settings(), run_worker=not no_worker)
    typer.echo(f"Relay on http://{host}:{port} (worker: {'off' if no_worker else 'on'})")
    uvicorn.run(application, host=host, port=port, log_config=None, timeout_graceful_shutdown=30)


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, max=32, help="worker threads")] = 1,
) -> None:
    """Run workers only (several processes may run against PostgreSQL)."""
    from service.worker.runner import Worker, run_until_stopped, tune_collector

    settings = get_settings()
    if settings.is_sqlite and concurrency > 1:
        typer.echo("SQLite has one writer: running a single worker thread", err=True)
        concurrency = 1
    database = Database(settings.database_url)
    from service.feedback import learning

    learning.load_classifier(database, settings)
    tune_collector()  # before forking: the helpers inherit it
    # Forked before any thread starts (see worker.helper), after the models are loaded.
    helpers = [_prepare_helper(settings) for _ in range(concurrency)]
    stop = threading.Event()
    _stop_on_signals(stop)
    threads = [
        threading.Thread(
            target=run_until_stopped, args=(Worker(database, settings, helper=helper), stop)
        )
        for helper in helpers
    ]
    for thread in threads:
        thread.start()
    typer.echo(f"worker running ({concurrency} thread(s)); Ctrl-C to stop", err=True)
    while any(t.is_alive() for t in threads):
        for thread in threads:
            thread.join(timeout=0.5)
    database.dispose()


def _prepare_helper(settings: Settings) -> PrepareHelper | None:
    from service.worker.helper import PrepareHelper  # imported when a worker starts

    if not settings.worker_prepare_process or (os.cpu_count() or 1) < 2:
        return None
    return PrepareHelper.start(settings)


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(_signum: int, _frame: FrameType | None) -> None:
        stop.set()  # finish the event in hand, hand back the rest, exit

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@app.command()
def demo() -> None:
    """Load the synthetic ticket set through the real pipeline and say where to look."""
    from service import demo as demo_data
    from service.feedback import learning

    settings = get_settings()
    database = Database(settings.database_url)
    learning.load_classifier(database, settings)
    try:
        summary = demo_data.load(database, settings)
        outputs = demo_data.produce(database, settings)
    finally:
        database.dispose()
    typer.echo(
        f"loaded {summary.tickets} tickets as {summary.events} Zendesk deliveries; "
        f"{summary.processed} processed"
    )
    typer.echo("feedback: GET /api/v1/feedback (relay serve, then use the admin token)")
    typer.echo("themes:   http://127.0.0.1:8000/themes")
    typer.echo(f"FAQs:     {outputs.faqs} drafts in {outputs.faq_dir} (review at /faqs)")
    if outputs.brief_pdf is not None:
        typer.echo(f"brief:    {outputs.brief_pdf} (/briefs/{outputs.brief_id})")
    else:
        typer.echo(f"brief:    {outputs.brief_id} failed: {outputs.brief_error}", err=True)
        raise typer.Exit(1)


@events_app.command("list")
def events_list(
    status: Annotated[EventStatus | None, typer.Option(help="filter by status")] = None,
    source: Annotated[str | None, typer.Option(help="filter by source")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Inbox events, newest first."""
    database = _database()
    with database.session() as session:
        rows = inbox_service.list_events(session, status=status, source=source, limit=limit)
        for row in rows:
            if as_json:
                typer.echo(
                    json.dumps(
                        {
                            "id": row.id,
                            "source": row.source,
                            "status": row.status,
                            "attempts": row.attempts,
                            "received_at": row.received_at.isoformat(),
                            "last_error": row.last_error,
                            "result": row.result,
                        }
                    )
                )
            else:
                typer.echo(
                    f"{row.id}  {row.source:<9} {row.status:<11} attempts={row.attempts}  "
                    f"{row.received_at:%Y-%m-%d %H:%M:%S}  {row.last_error or row.result or ''}"
                )
    database.dispose()


@events_app.command("replay")
def events_replay(
    event_id: Annotated[
        list[str] | None, typer.Option("--id", help="event id (repeatable)")
    ] = None,
    status: Annotated[
        EventStatus | None, typer.Option(help="replay every event in this status")
    ] = None,
) -> None:
    """Queue quarantined (or handled) events again."""
    database = _database()
    with database.session() as session:
        replayed = inbox_service.replay(session, ids=event_id or [], status=status)
    typer.echo(f"replayed {len(replayed)} event(s)")
    database.dispose()


@model_app.command("train")
def model_train() -> None:
    """Retrain on the shipped corpus plus every correction agents made (and the known-themes
    recogniser with every record people placed in a known problem's theme)."""
    from service.feedback import learning

    settings = get_settings()
    database = _database()
    retrained = learning.retrain(database, settings)
    database.dispose()
    typer.echo(f"trained {retrained.classifier.model_version} on {retrained.examples} examples")
    typer.echo(f"known themes: trained with {retrained.placements} placement(s) people made")
    typer.echo("run `relay feedback reclassify` to relabel stored records")


@model_app.command("evaluate")
def model_evaluate(
    folds: Annotated[int, typer.Option(min=2, max=20, help="cross-validation folds")] = 5,
) -> None:
    """k-fold cross-validation on the shipped corpus: per-label P/R/F1 and confusion tables."""
    from service.structuring.training import evaluate, format_report, load_corpus

    typer.echo(format_report(evaluate(load_corpus(), folds=folds)))


@feedback_app.command("reclassify")
def feedback_reclassify() -> None:
    """Relabel every record with the current model (corrected labels are kept)."""
    from service.feedback import learning

    settings = get_settings()
    database = _database()
    learning.load_classifier(database, settings)
    with database.session() as session:
        result = learning.reclassify(session)
    database.dispose()
    typer.echo(f"reclassified {result.records} records; {result.changed} changed labels")


def main() -> None:
    app()
