FROM python:3.11-slim-bookworm
WORKDIR /app
COPY . /app
RUN pip install --no-cache-dir -e .
ENV CITYGRID_ENV=development CITYGRID_ALLOW_REMOTE_DEV=true
EXPOSE 8000
CMD ["citygrid", "demo", "--host", "0.0.0.0", "--port", "8000"]
