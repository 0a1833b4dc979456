"""Worker handlers of the faq domain (registered with service.worker.registry)."""
