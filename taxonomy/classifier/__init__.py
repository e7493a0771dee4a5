"""Step 11 of the method: a classifier trained on the final labels, its cross-validated
figures, estimates over the unsampled posts of a question set, and similar coded posts
for arbitration and Pending. The last app of the method: it may read every earlier one,
none reads it (pages of earlier steps load its panels by URL)."""
