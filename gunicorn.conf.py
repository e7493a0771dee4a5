"""gunicorn's settings, read from the working directory (the Dockerfile's ``CMD`` and the
benchmarks start gunicorn in the project's root); the command line adds the rest."""

import gc

# Django, the URL conf and every view (numpy, matplotlib, …) are imported once, in the
# master, and the workers fork from it: no worker pays seconds for its first request.
preload_app = True


def when_ready(server):
    """In the master, after the application is loaded and before the workers fork."""
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # imports the views: Django would do it on each worker's first request
    connections.close_all()  # a connection opened while importing must not be shared by the workers
    # Everything imported lives as long as the process: moved out of the garbage collector's
    # reach, a full collection in a worker walks only what its requests made (a few ms) rather
    # than the whole import too (150–200 ms pauses on a request that triggers one), and the
    # workers' memory pages stay shared with the master.
    gc.collect()
    gc.freeze()
