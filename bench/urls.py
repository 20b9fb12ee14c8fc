"""The portal's URLs and, under ``/bench/``, the floor views (benchmark only)."""

from django.urls import path

from bench import floor
from billing_portal.urls import urlpatterns as portal_urlpatterns

urlpatterns = [
    path("bench/floor/write/", floor.floor_write, name="bench_floor_write"),
    path("bench/floor/read/", floor.floor_read, name="bench_floor_read"),
    *portal_urlpatterns,
]
