# Mirrors the README's set-up: python 3.11, the pinned requirements, a non-root user who owns its data.
FROM python:3.11-slim
RUN useradd --create-home --uid 1000 paddock
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY --chown=paddock:paddock . .
# the bot writes its kill switch, lock and day book under data/ (config.toml: data_dir = "data")
RUN mkdir -p /app/data && chown paddock:paddock /app /app/data
USER paddock
VOLUME ["/app/data"]
ENTRYPOINT ["python", "main.py"]
CMD ["backtest"]
