"""Inter-rater agreement: how far independent raters agree on an item's label
set (Cohen's κ, Fleiss' κ, Krippendorff's α nominal and MASI, percent
agreement, bootstrap intervals, a per-category table). The statistics are pure
(:mod:`taxonomy.review.agreement.statistics`) so they can be checked against
published numbers; the ``agreement`` command reads a long-format CSV."""
