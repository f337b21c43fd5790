"""Everything with side effects: one module (or small package) per pipeline stage."""
