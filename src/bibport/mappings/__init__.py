"""mappings: see DESIGN.md layering."""
