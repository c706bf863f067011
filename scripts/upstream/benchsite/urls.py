"""Only the cache's REST API, mounted where SODAR sites mount it."""

from django.urls import include, path

urlpatterns = [
    path('cache/', include('sodarcache.urls')),
]
