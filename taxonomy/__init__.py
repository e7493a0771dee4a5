"""The taxonomy tree, open coding and labelling (DESIGN.md steps 5-6).

- ``taxonomy.tree``: categories (root → inner → leaf), every change recorded.
- ``taxonomy.coding``: the joint pilot: free-text codes on pilot items, grouped into categories.
- ``taxonomy.labelling``: the independent, blind reliability round: one label per assignment.
"""
