"""Results (DESIGN.md step 10): what a study publishes.

Reads final labels (``taxonomy.review.arbitration``), the tree (``taxonomy.tree``,
its paths from ``taxonomy.tree.paths``) and the draws (``sampling``), through
the one blindness rule (``taxonomy.labelling.visibility``); nothing earlier in
the method imports this app.

- ``counting``: pure: final labels + tree shape → posts per node, percent of root.
- ``selectors``: loads a study's (or a draw's, a stratum's) final labels and counts them.
- ``taxonomy_csv``: the taxonomy table as CSV (page, API, ``export_taxonomy``).
- ``items_csv``: one row per sampled post with its labels and final label.
- ``figure``: the taxonomy figure (SVG, PDF, PNG); ``saturation``: the saturation curve.
- ``codebook``: the tree as a REFI-QDA codebook (``.qdc``).
- ``report``: the methods report (page, Markdown with LaTeX tables).
- ``archive``: the study archive (versioned JSON) and its restore (``import_study``);
  ``package``: the replication package (zip).
- ``services`` / ``tasks``: export jobs (large exports stream to a file in the background).
"""
