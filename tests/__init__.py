import os

# The tests' task queue is in memory and runs only when a test asks (services.infra.queue.run_queued). Set
# here, before conftest imports the app (and with it the queue), which reads it once.
os.environ["JIDI_JOBS"] = "memory"
