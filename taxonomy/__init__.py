"""The taxonomy tree, open coding and labelling (DESIGN.md steps 5-6).

Empty for now: the layout is fixed by DESIGN.md and this package fills in
when that capability is built.
"""
