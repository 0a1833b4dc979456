FROM python:3.11-slim

# WeasyPrint needs Pango/HarfBuzz; fonts are bundled in templates/.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY service ./service
COPY integrations ./integrations
COPY templates ./templates
COPY briefs ./briefs
RUN pip install --no-cache-dir .

RUN useradd --create-home relay && mkdir -p /data && chown relay /data
USER relay
ENV RELAY_DATA_DIR=/data
EXPOSE 8000
CMD ["relay", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
