"""What the CPU can compute: the bfloat16 probe against the instruction set, and the refusals it gives."""
import pytest

from common import cpu

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16
processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse2 avx2 avx512f avx512_bf16
"""


def test_flags_and_name_come_from_the_first_cpu_of_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text(CPUINFO)
    assert cpu.cpu_flags(info) == {"fpu", "sse2", "avx2", "avx512f", "avx512_bf16"}
    assert cpu.cpu_name(info) == "AMD EPYC 9B14"
    assert cpu.cpu_flags(tmp_path / "absent") == set() and cpu.cpu_name(tmp_path / "absent") == "this CPU"


def test_the_bfloat16_probe_agrees_with_the_instruction_set():
    flags, missing = cpu.cpu_flags(), cpu.bfloat16_missing()
    if not flags:
        pytest.skip("no /proc/cpuinfo: nothing to compare the probe with")
    if "avx512f" not in flags:  # oneDNN's bfloat16 kernels all need AVX-512
        assert missing is not None and "no AVX-512" in missing and cpu.cpu_name() in missing
    elif "avx512_bf16" in flags:
        assert missing is None
    else:
        pytest.skip("AVX-512 without AVX512-BF16: oneDNN may emulate bfloat16; nothing to compare with")


def test_require_bfloat16_names_what_needed_it(monkeypatch):
    monkeypatch.setattr(cpu, "bfloat16_missing", lambda: "no bfloat16 convolutions here")
    with pytest.raises(ValueError, match=r"^--amp bf16: no bfloat16 convolutions here$"):
        cpu.require_bfloat16("--amp bf16")
    monkeypatch.setattr(cpu, "bfloat16_missing", lambda: None)
    cpu.require_bfloat16("--amp bf16")
