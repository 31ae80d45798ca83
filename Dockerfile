# One image for the scheduler, the workers and the client: the scheduler must be able to
# unpickle the graph, so every process runs the same pinned versions of the same code.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
COPY tasks ./tasks
COPY pipeline ./pipeline
COPY configs ./configs
# requirements.lock pins every dependency (pip freeze of the tested environment)
RUN pip install --no-cache-dir -c requirements.lock . \
 && useradd --create-home --uid 1000 sf && mkdir -p /runs && chown sf /runs
USER sf
