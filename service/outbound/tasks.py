"""Worker handlers of the outbound domain (registered with service.worker.registry)."""
