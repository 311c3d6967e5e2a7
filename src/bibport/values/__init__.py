"""values: see DESIGN.md layering."""
