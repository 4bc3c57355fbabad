"""What a result records of the machine that made it."""

from __future__ import annotations

from kbetavae.provenance import machine, provenance

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
flags\t\t: fpu avx2

processor\t: 1
model name\t: AMD EPYC 7B13
"""


def test_machine_names_the_cpu_model_from_cpuinfo(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    found = machine(str(path))
    assert found["cpu"] == "AMD EPYC 7B13" and found["cores"] >= 1


def test_an_unreadable_or_nameless_cpuinfo_still_gives_a_name(tmp_path):
    (tmp_path / "nameless").write_text("processor\t: 0\nflags\t: fpu\n")
    for path in (tmp_path / "missing", tmp_path / "nameless"):
        name = machine(str(path))["cpu"]
        assert isinstance(name, str) and name  # platform.processor() or "unknown"


def test_provenance_carries_the_machine():
    record = provenance()
    assert set(record) >= {"versions", "git_revision", "machine"}
    assert record["machine"] == machine()
