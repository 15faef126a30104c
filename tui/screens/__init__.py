"""Staff screens: one module per task at the hatch."""
