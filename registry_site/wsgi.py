import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry_site.settings")
application = get_wsgi_application()

from models_app.api import mlflow as mlflow_api  # noqa: E402 (needs the app loaded)

mlflow_api.preload()

# What the process has loaded lives as long as it does: keep it out of the garbage collector's
# full passes, which otherwise walk every module object and stall a request now and then.
gc.collect()
gc.freeze()
