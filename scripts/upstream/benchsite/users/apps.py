"""The site's user model app (SODAR sites bring their own, based on SODARUser)."""

from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = 'benchsite.users'
    label = 'users'
