from django.apps import AppConfig


class SpasticityConfig(AppConfig):
    name = "spasticity"
    verbose_name = "ITB Clinic"

    def ready(self) -> None:
        # Connects the receivers that delete a user's API tokens when their password changes,
        # and the one that refuses to delete a staff user (they are deactivated instead).
        from spasticity import api_tokens, staff  # noqa: F401
