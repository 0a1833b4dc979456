"""Worker handlers of the escalation domain (registered with service.worker.registry)."""
