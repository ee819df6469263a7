"""``python -m sercore.runs``: rewrite every paper notebook's parameters cell from its resolved parameters."""
from .params import sync_parameters_cells

for path in sync_parameters_cells():
    print(f"rewrote the parameters cell of {path}")
