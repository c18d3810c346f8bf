from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, organizations and regions"

    def ready(self):
        from django.db.models.signals import post_save, pre_save

        from .models import User
        from .services import _password_changing, on_user_saved

        # a password change, however made (API, admin, manage.py changepassword), revokes the API tokens
        pre_save.connect(_password_changing, sender=User, dispatch_uid="accounts.password_changing")
        post_save.connect(on_user_saved, sender=User, dispatch_uid="accounts.password_changed")
