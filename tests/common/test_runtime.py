from common.runtime import defaults, uses_gpus


def test_gpu_flag_detection():
    assert uses_gpus(["--gpus", "0,1"]) and uses_gpus(["--prefix", "m", "--gpus=0"])
    assert not uses_gpus(["--cpus", "2"]) and not uses_gpus(["--gpus", ""]) and not uses_gpus([])


def test_cpu_runs_get_every_core_and_the_naive_engine():
    env = defaults(["--cpus", "2"], cpu_count=8)
    assert env["OMP_NUM_THREADS"] == "8" and env["MXNET_ENGINE_TYPE"] == "NaiveEngine"
    assert "MXNET_ENGINE_TYPE" not in defaults(["--gpus", "0"], cpu_count=8)  # GPUs need the async engine
