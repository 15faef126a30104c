"""Widgets shared by the staff screens."""
