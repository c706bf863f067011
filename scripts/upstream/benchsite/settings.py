"""The smallest Django site that serves SODAR Core's sodarcache REST API, for
`scripts/bench --upstream`. Written for this benchmark; the values that matter for
speed follow SODAR Core's documented site settings (REST authentication classes,
time zone, atomic requests), plus persistent database connections."""

import os

from projectroles.constants import get_sodar_constants  # noqa: F401 (import check)

SITE_PACKAGE = 'benchsite'
SECRET_KEY = 'bench-only-not-secret'
DEBUG = False
ALLOWED_HOSTS = ['*']

INSTALLED_APPS = [
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.sites',
    'django.contrib.messages',
    'rules.apps.AutodiscoverRulesConfig',
    'djangoplugins',
    'dal',  # projectroles' forms import its widgets
    'dal_select2',
    'rest_framework',
    'knox',
    'axes',  # login throttling, as SODAR Core 1.4 sites have it
    'projectroles.apps.ProjectrolesConfig',
    'sodarcache.apps.SodarcacheConfig',
    'example_project_app.apps.ExampleProjectAppConfig',
    'benchsite.users.apps.UsersConfig',
]

MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
    'axes.middleware.AxesMiddleware',
]

DATABASES = {
    'default': {
        'ENGINE': 'django.db.backends.postgresql',
        'NAME': os.environ['BENCH_UPSTREAM_DB'],
        'USER': os.environ.get('BENCH_UPSTREAM_DB_USER', 'postgres'),
        'HOST': os.environ.get('BENCH_UPSTREAM_DB_HOST', '127.0.0.1'),
        'PORT': os.environ.get('BENCH_UPSTREAM_DB_PORT', '5432'),
        'ATOMIC_REQUESTS': True,
        # Persistent connections: upstream's faster configuration.
        'CONN_MAX_AGE': None,
    }
}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'

TIME_ZONE = 'Europe/Berlin'
USE_TZ = True
USE_I18N = False
SITE_ID = 1
LANGUAGE_CODE = 'en-us'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'APP_DIRS': True,
        'OPTIONS': {'context_processors': []},
    }
]

ROOT_URLCONF = 'benchsite.urls'
WSGI_APPLICATION = 'benchsite.wsgi.application'
AUTH_USER_MODEL = 'users.User'
AUTHENTICATION_BACKENDS = [
    'axes.backends.AxesStandaloneBackend',
    'rules.permissions.ObjectPermissionBackend',
    'django.contrib.auth.backends.ModelBackend',
]
PASSWORD_HASHERS = ['django.contrib.auth.hashers.Argon2PasswordHasher']

REST_FRAMEWORK = {
    'DEFAULT_AUTHENTICATION_CLASSES': (
        'rest_framework.authentication.BasicAuthentication',
        'rest_framework.authentication.SessionAuthentication',
        'knox.auth.TokenAuthentication',
    ),
}
TOKEN_TTL = None

ENABLED_BACKEND_PLUGINS = ['sodar_cache']
PROJECTROLES_SITE_MODE = 'SOURCE'
PROJECTROLES_TARGET_CREATE = True
PROJECTROLES_DEFAULT_ADMIN = 'admin'
PROJECTROLES_ALLOW_LOCAL_USERS = True
PROJECTROLES_ALLOW_ANONYMOUS = False
PROJECTROLES_SEND_EMAIL = False
PROJECTROLES_EMAIL_SENDER_REPLY = False
PROJECTROLES_INVITE_EXPIRY_DAYS = 14
PROJECTROLES_DELEGATE_LIMIT = 1
ENABLE_LDAP = False
ENABLE_LDAP_SECONDARY = False
ENABLE_OIDC = False
AUTH_LDAP = False
EMAIL_SENDER = 'noreply@example.com'
EMAIL_SUBJECT_PREFIX = ''
ADMINS = [['Admin', 'admin@example.com']]
SITE_INSTANCE_TITLE = 'bench'
SITE_TITLE = 'bench'

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler', 'level': 'ERROR'}},
    'root': {'handlers': ['console'], 'level': 'ERROR'},
}
