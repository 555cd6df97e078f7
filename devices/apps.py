from django.apps import AppConfig


class DevicesConfig(AppConfig):
    """MRI scans of pumps and device safety notices (issue 13, points 6 and 7)."""

    name = "devices"

    def ready(self) -> None:
        from devices.models import MriScan
        from devices.services import after_mri_scan_voided
        from spasticity.audit import register_after_void

        register_after_void(MriScan, after_mri_scan_voided)
