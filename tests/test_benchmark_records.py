"""Benchmark records per CPU kind and the README's speed table generated from them."""

from __future__ import annotations

import json
import os

import pytest

from benchmarks import records
from kbetavae import marked_tables

ZEN4 = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse avx avx2 avx512f avx512bw avx512_bf16 sha_ni
"""


@pytest.mark.parametrize(
    ("flags", "kind"),
    [
        ({"avx2"}, "amd-epyc-avx2"),
        ({"avx2", "avx512f"}, "amd-epyc-avx512"),
        ({"avx2", "avx512f", "avx512_bf16"}, "amd-epyc-avx512-bf16"),
        ({"avx512_bf16", "amx_bf16"}, "amd-epyc-amx-bf16"),
        (set(), "amd-epyc-baseline"),
    ],
)
def test_a_cpu_kind_is_its_model_and_most_capable_flag(flags, kind):
    assert records.cpu_kind("AMD EPYC", flags) == kind


def _cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(ZEN4)
    return str(path)


def test_this_machine_reads_cpuinfo(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # provenance counts the cores
    machine = records.this_machine(_cpuinfo(tmp_path))
    assert machine == {
        "cpu": "AMD EPYC",
        "flags": ["avx2", "avx512f", "avx512_bf16"],
        "cores": 2,
        "kind": "amd-epyc-avx512-bf16",
    }


def _record(root, name, kind, fused_ratio, bf16=None):
    folder = root / name
    folder.mkdir()
    (folder / "machine.json").write_text(json.dumps({"cpu": "x", "kind": kind}))
    (folder / "bench_fused.json").write_text(json.dumps({"ratio": fused_ratio}))
    if bf16:
        rows = [
            {"batch_size": 32, "jit": False, "precision": p, "bare_images_per_s": r}
            for p, r in zip(("float32", "mixed_bfloat16"), bf16, strict=True)
        ]
        (folder / "bench_model.json").write_text(json.dumps({"rows": rows}))


def test_the_table_has_a_column_per_kind_from_its_newest_record(tmp_path):
    _record(tmp_path, "2026-12-01-a-avx2", "a-avx2", 1.2)
    _record(tmp_path, "2026-12-02-a-avx2", "a-avx2", 1.4)
    _record(tmp_path, "2026-12-03-b-amx-bf16", "b-amx-bf16", 1.1, bf16=(1000.0, 1400.0))
    (tmp_path / "notes").mkdir()  # not a record: no machine.json
    table = records.speed_markdown(tmp_path)
    lines = table.splitlines()
    assert lines[0] == "| measurement | `a-avx2` | `b-amx-bf16` |"
    fused = next(line for line in lines if line.startswith("| 7 members"))
    assert fused.endswith("| 1.40× | 1.10× |")
    bf16 = next(line for line in lines if line.startswith("| mixed_bfloat16"))
    assert bf16.endswith("| — | 1.40× |")
    assert "2026-12-01-a-avx2" not in table  # older record of the same kind: not quoted


def test_a_record_folder_is_named_by_date_and_kind_and_never_overwritten(tmp_path, monkeypatch):
    machine = records.this_machine(_cpuinfo(tmp_path))
    monkeypatch.setattr(records, "this_machine", lambda: dict(machine))
    first = records.write_record({"bench_fused": {"ratio": 1.3}}, "cmd", root=tmp_path)
    second = records.write_record({"bench_fused": {"ratio": 1.4}}, "cmd", root=tmp_path)
    assert first.name.endswith("-amd-epyc-avx512-bf16") and second.name == first.name + "-2"
    written = json.loads((first / "machine.json").read_text())
    assert written["kind"] == "amd-epyc-avx512-bf16" and written["command"] == "cmd"
    assert json.loads((second / "bench_fused.json").read_text()) == {"ratio": 1.4}


def test_the_readme_speed_table_is_generated_from_the_committed_records():
    readme = records.README.read_text()
    assert "speed" in marked_tables.names(readme)
    assert marked_tables.stale(readme, records.tables()) == []
