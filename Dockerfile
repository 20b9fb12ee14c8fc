# The portal's image: used by web, worker and beat in docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app

COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
# collectstatic needs settings but no database or secret of production.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

RUN useradd --create-home portal
USER portal

EXPOSE 8000
CMD ["gunicorn", "billing_portal.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]
