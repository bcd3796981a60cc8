# The registry's image: web (gunicorn) and task worker run from it with different commands,
# as in compose.yaml. Every command here is the README's "Deploy" sequence.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_ENV_FILE="" \
    GUNICORN_BIND=0.0.0.0:8000 \
    FORWARDED_ALLOW_IPS=*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

# Static files are baked into the image (hashed, compressed); loading the settings needs a
# key, but this one signs nothing: the running container gets its own DJANGO_SECRET_KEY.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --no-input

RUN useradd --system --uid 10001 --no-create-home registry
USER registry
EXPOSE 8000

CMD ["gunicorn", "registry_site.wsgi", "--workers", "4"]
