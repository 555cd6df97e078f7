"""Pumps, dose programs and refills (built in the pumps issue)."""
