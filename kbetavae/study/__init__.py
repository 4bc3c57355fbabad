"""A study: a plan of runs, the sweep that trains and evaluates them, and their results.

- :mod:`~kbetavae.study.plan`: ``SweepPlan`` (a base ``TrainConfig`` × βs × seeds + metrics);
- :mod:`~kbetavae.study.sweep`: ``run_sweep``, resumable orchestration;
- :mod:`~kbetavae.study.results`: the sweep directory's table, statistics and files;
- :mod:`~kbetavae.study.collect`: merge runs from many jobs into one table;
- :mod:`~kbetavae.study.trial`: one run evaluated and exported as a sweep would.
"""
