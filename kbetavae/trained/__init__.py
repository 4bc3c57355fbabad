"""A trained model's input and output, one module each: write it as a SavedModel for TF
Serving (:mod:`~kbetavae.trained.export`), open a run directory, ``.keras`` file or
SavedModel as numpy ``encode``/``decode`` (:mod:`~kbetavae.trained.load`), the TF
Serving REST bodies and responses (:mod:`~kbetavae.trained.serving`), and a published
run's encoder in float16 (:mod:`~kbetavae.trained.archive`). Where a run's model and its
exports live is :mod:`kbetavae.training.rundir`'s."""
