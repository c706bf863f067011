"""An installed app named like the one whose items the benchmark reads and writes
(upstream accepts any installed app's name)."""

from django.apps import AppConfig


class ExampleProjectAppConfig(AppConfig):
    name = 'example_project_app'
