"""Reactions to changes made outside the registry's services (Django's auth forms, the admin,
`changepassword`): each only calls a service."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save

from models_app import services

CREDENTIAL_FIELDS = ("password", "is_active")


def remember_credentials(sender, instance, update_fields=None, **kwargs):
    instance._credentials_before = None
    if instance.pk is None or (
        update_fields is not None and not set(CREDENTIAL_FIELDS) & set(update_fields)
    ):
        return
    instance._credentials_before = (
        sender.objects.filter(pk=instance.pk).values_list(*CREDENTIAL_FIELDS).first()
    )


def revoke_tokens_on_credential_change(sender, instance, created=False, **kwargs):
    """A new password or a deactivation ends every API token the user had."""
    before = getattr(instance, "_credentials_before", None)
    instance._credentials_before = None
    if created or before is None:
        return
    password, was_active = before
    # A raw password was set (set_password), or the hash was replaced by hand; a hash upgraded
    # at sign-in (check_password's rehash) keeps the same password and is not a change.
    new_password = getattr(instance, "_password", None) is not None or (
        password != instance.password and kwargs.get("update_fields") is None
    )
    if new_password or (was_active and not instance.is_active):
        services.tokens_revoke_all(owner=instance, user=None)


def connect():
    user_model = get_user_model()
    pre_save.connect(remember_credentials, sender=user_model, dispatch_uid="tokens_before")
    post_save.connect(
        revoke_tokens_on_credential_change, sender=user_model, dispatch_uid="tokens_revoke"
    )
