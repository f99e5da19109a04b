# Mirrors the README's set-up: python 3.11, the pinned requirements, a non-root user.
FROM python:3.11-slim
RUN useradd --create-home --uid 1000 paddock
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=paddock:paddock . .
USER paddock
ENTRYPOINT ["python", "main.py"]
CMD ["backtest"]
