# One image for scheduler, workers and the client (the scheduler must unpickle the graph).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tasks ./tasks
COPY pipeline ./pipeline
COPY configs ./configs
RUN pip install --no-cache-dir .
