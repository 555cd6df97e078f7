"""Intrathecal trials and goals (built in the trials issue)."""
