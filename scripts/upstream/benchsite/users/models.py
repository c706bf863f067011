"""User model: SODAR Core's abstract SODARUser, as a site defines it."""

from projectroles.models import SODARUser


class User(SODARUser):
    pass
