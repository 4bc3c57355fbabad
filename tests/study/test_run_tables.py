"""Tables drawn run by run: traversal motion, axis alignment beside MIG, per-latent KL."""

from __future__ import annotations

from kbetavae.study import run_tables


def test_the_motion_table_lists_the_active_latents_as_measured(tmp_path):
    from kbetavae.study.motion import MOTION_COLUMNS, write_motion_csv

    def row(latent, active, angle):
        values = dict.fromkeys(MOTION_COLUMNS, 0.0)
        values.update(run="beta=5_seed=0", beta=5.0, seed=0, latent=latent, active=active)
        values.update(kl=1.234, angle_deg=angle, extent_px=12.34, straightness=0.987)
        values.update(size_change=0.25, vanished=False)
        return values

    rows = [row(0, True, 26.3), row(1, False, 80.0), row(2, True, float("nan"))]
    write_motion_csv(rows, str(tmp_path / "traversal_motion.csv"))
    lines = run_tables.motion_markdown(str(tmp_path)).splitlines()
    assert len(lines) == 2 + 2  # the inactive latent is left out
    assert lines[2] == "| 5 | 0 | z0 | 1.23 | 26 | 12.3 | 0.99 | 25% |"
    assert lines[3] == "| 5 | 0 | z2 | 1.23 | — | 12.3 | 0.99 | 25% |"  # no direction: still
    assert "no traversal_motion.csv" in run_tables.motion_markdown(str(tmp_path / "none"))


def test_the_axes_table_finds_runs_whose_long_moves_follow_both_image_axes(tmp_path):
    """Three runs: β = 10 moves the sprite 30 px at -3° and 88° (x and y: within 10°), plus a
    short 5 px move at 0° that does not count; β = 5 moves it at 26° and 58° (neither); β = 1
    at 8° only (x). MIG 0.4 for the first against 0.1 and 0.2 for the others: with one run
    against two, the exact rank-sum p is 2 × 1/3 — the smallest possible for these sizes."""
    from kbetavae.study.motion import MOTION_COLUMNS, write_motion_csv
    from kbetavae.study.results import write_results

    def move(beta, latent, angle, extent):
        values = dict.fromkeys(MOTION_COLUMNS, 0.0)
        values.update(run=f"beta={beta:g}_seed=0", beta=beta, seed=0, latent=latent)
        values.update(active=True, kl=2.0, angle_deg=angle, extent_px=extent, vanished=False)
        return values

    moves = [move(10.0, 0, -3.0, 30.0), move(10.0, 1, 88.0, 30.0), move(10.0, 2, 0.0, 5.0)]
    moves += [move(5.0, 0, 26.0, 25.0), move(5.0, 1, 58.0, 25.0), move(1.0, 0, 8.0, 20.0)]
    moves.append({**move(1.0, 1, float("nan"), 0.1), "active": False})
    write_motion_csv(moves, str(tmp_path / "traversal_motion.csv"))
    mig = {1.0: 0.2, 5.0: 0.1, 10.0: 0.4}
    rows = [
        {"beta": b, "seed": 0, "status": "done", "active_latents": 2, "mig": m, "zdiff": 0.8}
        for b, m in mig.items()
    ]
    write_results(str(tmp_path), rows)
    lines = run_tables.axes_markdown(str(tmp_path)).splitlines()
    assert lines[2] == "| 1 | 0 | 2 | 8 | x | 0.200 | 0.800 |"
    assert lines[3] == "| 5 | 0 | 2 | 26, 58 | — | 0.100 | 0.800 |"
    assert lines[4] == "| 10 | 0 | 2 | -3, 88 | x and y | 0.400 | 0.800 |"
    assert lines[-1].startswith("MIG of the 1 runs with a long move (≥ 15 px) within 10° of")
    assert lines[-1].endswith(
        ": 0.400; of the other 2: 0.100–0.200 (Mann–Whitney U, two-sided p 0.667)."
    )


def test_the_kl_table_ranks_each_runs_latents_before_averaging_seeds(tmp_path):
    """Seed 0 uses z0 (3 nats), seed 1 uses z1 (1 nat): index by index the mean would be
    1.5 and 0.5; ranked within each run first, the most used latent averages (3 + 1)/2 = 2
    and the other (0.001 + 0.002)/2 = 0.0015, which is below 0.01 nats: not bold."""
    import json

    from kbetavae.study.results import write_results

    kl = {0: [3.0, 0.001], 1: [0.002, 1.0]}
    runs = []
    for seed, values in kl.items():
        run = tmp_path / "runs" / f"beta=4_seed={seed}"
        run.mkdir(parents=True)
        record = {"kl_per_latent": values, "protocol": {"num_points": 10_000}, "seed": seed}
        (run / "metrics.json").write_text(json.dumps(record))
        runs.append({"beta": 4.0, "seed": seed, "run_dir": f"runs/{run.name}"})
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": runs}))
    write_results(str(tmp_path), [{"beta": 4.0, "seed": s, "status": "done"} for s in kl])
    lines = run_tables.kl_markdown(str(tmp_path)).splitlines()
    assert lines[:3] == ["| β | #1 | #2 |", "|---|---|---|", "| 4 | **2** | 0.0015 |"]
    assert "latents ranked by KL within each run, then mean over up to 2 seeds" in lines[-1]


def test_the_convergence_table_lists_the_runs_whose_classifier_hit_its_limit(tmp_path):
    """β = 4, three seeds: seed 1's classifier stopped at the limit (100 of 100 iterations,
    recorded), seed 0's did not, seed 2's record predates ``iterations`` (converged only)."""
    import json

    from kbetavae.study.results import write_results

    classifier = {"solver": "lbfgs", "multi_class": "multinomial", "sklearn_version": "9.9"}
    entries = {
        0: {"score": 0.8, "converged": True, "iterations": 40, "max_iter": 100},
        1: {"score": 0.6, "converged": False, "iterations": 100, "max_iter": 100},
        2: {"score": 0.7, "converged": True},
    }
    runs = []
    for seed, entry in entries.items():
        run = tmp_path / "runs" / f"beta=4_seed={seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(
            json.dumps({"zdiff": {**entry, "classifier": classifier}})
        )
        runs.append({"beta": 4.0, "seed": seed, "run_dir": f"runs/{run.name}"})
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": runs}))
    write_results(str(tmp_path), [{"beta": 4.0, "seed": s, "status": "done"} for s in entries])
    lines = run_tables.convergence_markdown(str(tmp_path)).splitlines()
    assert lines[2] == "| 4 | 3 | seed 1 (100 of 100 iterations) | 0.600 | 0.700–0.800 |"
    assert lines[-1].startswith(
        "1 of 3 runs: the classifier (lbfgs, multinomial, scikit-learn 9.9) stopped at its "
        "iteration limit, short of its optimum"
    )


def test_the_run_times_table_groups_the_runs_that_trained_together(tmp_path):
    """Seed 0's β-VAE and DIP-VAE-I runs record the same wall and CPU times (one fused
    step): one row. Seed 1's run predates the CPU-time record (—), and its failed run is left
    out. Machines are set in config.json, so the table does not depend on this one."""
    import json

    from kbetavae.training import rundir
    from kbetavae.training.config import TrainConfig

    def run(objective, weight, seed, seconds, cpu_seconds, status="done"):
        config = TrainConfig(seed=seed, objective=objective, beta=1.0)
        config = config.replace(**({"beta": weight} if objective == "beta" else {}))
        if objective == "dipvae_i":
            config = config.replace(objective_args={"lambda_od": weight})
        run_dir = str(tmp_path / "runs" / rundir.run_name(config))
        (tmp_path / "runs" / rundir.run_name(config)).mkdir(parents=True)
        rundir.write_config(run_dir, config)
        record = json.loads(
            (tmp_path / "runs" / rundir.run_name(config) / "config.json").read_text()
        )
        record["machine"] = {"cpu": "Test CPU", "cores": 2}
        (tmp_path / "runs" / rundir.run_name(config) / "config.json").write_text(json.dumps(record))
        result = rundir.TrainResult(run_dir, status, 10, 100, {}, None, seconds, cpu_seconds)
        rundir.write_result(result)
        return {"beta": config.beta, "seed": seed, "run_dir": f"runs/{rundir.run_name(config)}"}

    runs = [
        run("beta", 4.0, 0, 1234.4, 2345.6),
        run("dipvae_i", 10.0, 0, 1234.4, 2345.6),
        run("beta", 4.0, 1, 600.0, None),
        run("dipvae_i", 10.0, 1, 10.0, 20.0, status="failed"),
    ]
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": runs}))
    lines = run_tables.run_times_markdown(str(tmp_path)).splitlines()
    assert lines[0] == "| seed | trained together | wall (s) | CPU (s) | CPU |"
    assert lines[2] == "| 0 | beta=4, dipvae_i_lambda_od=10 | 1,234 | 2,346 | Test CPU, 2 cores |"
    assert lines[3] == "| 1 | beta=4 | 600 | — | Test CPU, 2 cores |"
    assert lines[4] == ""
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "sweep.json").write_text(json.dumps({"runs": runs[3:]}))
    assert "no finished run" in run_tables.run_times_markdown(str(tmp_path / "none"))
