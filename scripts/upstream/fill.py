"""Fills the benchmark site's database like `examples/bench_fill.rs` fills ours: a user
`bench` (password `bench`) owning three projects under one category, a 1 KB and a 1 MB
item, 100 and 10,000 small items, and a knox token. Prints shell assignments
(`TOKEN=... SMALL=... FEW=... MANY=...`). With `refill N`, only (re)creates N items in
the project "Many items" (for timing `deletecache` again)."""

import os
import sys

import django

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'benchsite.settings')
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from knox.models import AuthToken  # noqa: E402
from projectroles.models import Project, Role, RoleAssignment  # noqa: E402
from sodarcache.models import JSONCacheItem  # noqa: E402

APP = 'example_project_app'
SMALL_DATA = {'value': 'x' * 200, 'n': 1}


def fill(project, n):
    JSONCacheItem.objects.bulk_create(
        JSONCacheItem(project=project, app_name=APP, name=f'item_{i:05}', data=SMALL_DATA)
        for i in range(n)
    )


if len(sys.argv) == 3 and sys.argv[1] == 'refill':
    many = Project.objects.get(title='Many items')
    JSONCacheItem.objects.filter(project=many).delete()
    fill(many, int(sys.argv[2]))
    sys.exit(0)

User = get_user_model()
user = User.objects.create_user(username='bench', password='bench')
owner = Role.objects.get(name='project owner')
category = Project.objects.create(title='Bench', type='CATEGORY')
RoleAssignment.objects.create(project=category, user=user, role=owner)


def project(title):
    p = Project.objects.create(title=title, type='PROJECT', parent=category)
    RoleAssignment.objects.create(project=p, user=user, role=owner)
    return p


small, few, many = project('Small items'), project('Few items'), project('Many items')
JSONCacheItem.objects.create(
    project=small, app_name=APP, name='item_1k', user=user,
    data={'payload': 'a' * 1000},
)
JSONCacheItem.objects.create(
    project=small, app_name=APP, name='item_1m', user=user,
    data={'rows': [{'i': i, 'v': 'b' * 84} for i in range(10_000)]},
)
fill(few, 100)
fill(many, 10_000)
_, token = AuthToken.objects.create(user=user)
print(f'TOKEN={token}')
print(f'SMALL={small.sodar_uuid}')
print(f'FEW={few.sodar_uuid}')
print(f'MANY={many.sodar_uuid}')
