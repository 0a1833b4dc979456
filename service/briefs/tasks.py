"""Worker handlers of the briefs domain (registered with service.worker.registry)."""
