"""The controller's name of :mod:`deiscore.validation`, where every rule is defined.

Only a re-export: it goes once its last importers (config, limits, builds, access, auth) import
``deiscore.validation`` themselves. A rule broken raises :class:`deiscore.errors.InvalidInput`, which the
app's error handler answers with 400 ``{"detail": ...}``.
"""
from deiscore.validation import (  # noqa: F401 - the names its importers use
    APP_NAME, APP_NAME_MAX, IMAGE_ID, KEY_NAME, MAX_CONFIG_VALUE, RESERVED_APP_NAMES, USERNAME, USERNAME_MAX,
    ImageRef, app_name, config_key, config_value, cpu, domain, image, image_reference, json_object, key_name,
    memory, procfile, process_type, username)
