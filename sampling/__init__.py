"""Sample sizes, stratified seeded draws and the pilot split (DESIGN.md step 4).

Empty for now: the layout is fixed by DESIGN.md and this package fills in
when that capability is built.
"""
