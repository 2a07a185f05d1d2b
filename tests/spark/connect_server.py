"""A real Spark Connect server on loopback, for the tests that reach Spark over `data.spark.connect`.

pyspark ships the server (`jars/spark-connect_*.jar`) and `bin/spark-submit`: the server class is
started with a local[2] master, its gRPC endpoint and its driver bound to 127.0.0.1 on a free
port, with the same small-data settings as the tests' local session. `connect_server()` yields
the `sc://127.0.0.1:PORT` URL once the port accepts connections, and stops the server (its own
process group, which this fixture started) at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from servers import free_port, port_open
from spark_helpers import TEST_CONF

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 180.0  # a cold JVM on 2 busy cores


@contextmanager
def connect_server(log: Path) -> Iterator[str]:
    import pyspark

    home = Path(pyspark.__file__).parent
    port = free_port()
    conf = {**TEST_CONF, "spark.connect.grpc.binding.address": "127.0.0.1", "spark.connect.grpc.binding.port": str(port),
            "spark.driver.bindAddress": "127.0.0.1", "spark.driver.host": "127.0.0.1", "spark.ui.enabled": "false",
            "spark.sql.session.timeZone": "UTC"}
    memory = conf.pop("spark.driver.memory", "1g")
    command = [str(home / "bin" / "spark-submit"), "--master", "local[2]", "--driver-memory", memory,
               "--class", SERVER_CLASS, "--name", "rollout-tests-connect"]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    env = {**os.environ, "SPARK_HOME": str(home)}
    env.pop("SPARK_REMOTE", None)
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_open(port):
            if server.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the Spark Connect server did not start (exit {server.poll()}):\n{tail}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)
