"""KerasTuner's chief/worker mode: roles from the environment, and `--workers N` on one machine."""

import functools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from fashion_tuning import system
from fashion_tuning.errors import UserError
from fashion_tuning.exits import EXIT_NO_TRIAL
from fashion_tuning.flags import EXIT_USAGE
from fashion_tuning.results_folder import what_is_kept

# KerasTuner's own variables: the chief serves the oracle over gRPC, workers run trials.
TUNER_ID = "KERASTUNER_TUNER_ID"
ORACLE_IP = "KERASTUNER_ORACLE_IP"
ORACLE_PORT = "KERASTUNER_ORACLE_PORT"
PACKAGE_ROOT = str(Path(__file__).resolve().parents[1])
LAUNCHER_PID = "FASHION_TUNING_LAUNCHER_PID"
# How `cli.main` ends a run, in one line on stderr: its error, or the signal that stopped it.
# The launcher speaks for the run: it holds a child's last words back and says each once.
LAST_WORDS = ("error: ", "interrupted by ")


def role():
    """"single", "chief" or "worker", as KerasTuner will decide it from the environment."""
    if ORACLE_IP not in os.environ:
        return "single"
    return "chief" if "chief" in os.environ.get(TUNER_ID, "") else "worker"


def tuner_id():
    return os.environ.get(TUNER_ID, "tuner0")


def chief_address():
    """Where a worker finds the chief's oracle: "IP:PORT"."""
    return f"{os.environ[ORACLE_IP]}:{os.environ[ORACLE_PORT]}"


def serve_oracle(oracle, poll_s=1.0):
    """Serve `oracle` to the workers over gRPC until every trial is done and every worker has
    left, as KerasTuner's `oracle_chief.start_server` does, but noticing that within `poll_s`
    (KerasTuner's own loop checks every 20 s, which every run then waits at its end).

    Raises:
        WriteFailed: the oracle's write was refused while serving a worker (`_kept_for_the_chief`),
            raised here in the chief's main thread, which ends the chief with its one line.
    """
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = oracle_chief.OracleServicer(oracle)
    failed, woken = [], threading.Event()
    for name in vars(protos.get_service_grpc().OracleServicer):
        if not name.startswith("_"):
            setattr(servicer, name, _kept_for_the_chief(getattr(servicer, name), failed, woken))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_insecure_port(chief_address())
    server.start()
    while not (failed or servicer.stop_triggered and oracle_chief.exit_chief(oracle)):
        woken.wait(poll_s)
    if failed:  # Not stopping the server: its calls stay unanswered until the chief ends.
        raise failed[0]
    server.stop(grace=None)


def _kept_for_the_chief(handler, failed, woken, answer_after_s=60):
    """`handler`, a method of the oracle's gRPC servicer, but what ends the chief (a failed
    write, `errors.WriteFailed`, which gRPC's `except Exception` misses, so the worker would
    wait KerasTuner's hour, then record its trial failed; a `UserError`, a damaged trial log
    that the time budget read) is kept in `failed` and `woken` set, for `serve_oracle` to
    raise. This call and later ones stay unanswered while the chief ends, so a worker hears
    of it only then, and the trial stays unfinished for a resume."""
    import grpc

    @functools.wraps(handler)
    def kept(request, context):
        if not failed:
            try:
                return handler(request, context)
            except BaseException as e:
                if isinstance(e, Exception) and not isinstance(e, UserError):
                    raise
                failed.append(e)
            woken.set()
        time.sleep(answer_after_s)  # The chief has ended by then, unless kept alive.
        context.abort(grpc.StatusCode.UNAVAILABLE, f"the chief stopped: {failed[0]}")

    return kept


def free_port():
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def strip_workers_flag(argv):
    """`argv` without `--workers N` / `--workers=N` (the children must not launch again)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out


def die_with_launcher():
    """In a child of `launch`: end when the launcher dies, however it dies, so that no chief
    or worker outlives it holding the folder's lock (`system.die_with_parent`)."""
    system.die_with_parent(int(os.environ.pop(LAUNCHER_PID, "0")))


def gpu_assignment(names, gpus):
    """`CUDA_VISIBLE_DEVICES` for each of the processes `names` ("chief" and workers), given
    the ids of the host's `gpus`: with several, each worker gets one of its own, round robin,
    and the chief, which trains only the final model, the first. With one or none, nothing is
    pinned: memory growth lets every process share the one GPU.

    Returns:
        {name: GPU id}, empty for fewer than two GPUs.
    """
    if len(gpus) < 2:
        return {}
    workers = [name for name in names if name != "chief"]
    return {"chief": gpus[0], **{name: gpus[i % len(gpus)] for i, name in enumerate(workers)}}


def _stream(name, proc, lock, held):
    """Copy the child `name`'s output (stdout and stderr) to stdout, each line as "[name] line",
    but its last words (`LAST_WORDS`), which go to `held`."""
    for line in proc.stdout:
        if line.startswith(LAST_WORDS):
            held.append(line.rstrip("\n"))
        else:
            with lock:
                sys.stdout.write(f"[{name}] {line}")
                sys.stdout.flush()


def _stop_all(procs, grace=20):
    """SIGTERM every live child, then SIGKILL what is still alive after `grace` seconds."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch(strategy, argv, workers, folder):
    """Run a chief and `workers` workers of `strategy`, whose results go to `folder`, on
    loopback; stream, supervise, reap.

    Returns:
        0 when every process finished cleanly. Otherwise, after stopping the others, the
        failing process's exit code (1 if a signal killed it), with `_say_why`'s lines on
        stderr. Ctrl-C, SIGTERM or SIGHUP stops them all and re-raises; if the launcher is
        killed outright, the kernel sends its children SIGTERM (Linux).

    Raises:
        UserError: where a child cannot have a session of its own (Windows).
    """
    session = system.own_session()
    if session is None:
        raise UserError("--workers needs Linux or macOS (a session per process); on Windows "
                        "run without it, or start a chief and workers yourself with the "
                        "KERASTUNER_* variables")
    threads = max(1, (os.cpu_count() or 1) // workers)
    env = {**os.environ, ORACLE_IP: "127.0.0.1", ORACLE_PORT: str(free_port()),
           "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT,
                                                      os.environ.get("PYTHONPATH")])),
           "PYTHONUNBUFFERED": "1", LAUNCHER_PID: str(os.getpid())}
    code = ("from fashion_tuning import distributed, cli; distributed.die_with_launcher(); "
            f"cli.run_script({strategy!r})")
    command = [sys.executable, "-c", code, *strip_workers_flag(argv)]
    names = ["chief"] + [f"worker{i}" for i in range(workers)]
    gpus = gpu_assignment(names, [gpu["id"] for gpu in system.nvidia_gpus()])
    procs, readers, held, lock = {}, [], {name: [] for name in names}, threading.Lock()
    print(f"Starting a chief and {workers} workers on 127.0.0.1:{env[ORACLE_PORT]}, "
          f"{threads} CPU thread(s) per worker"
          + "".join(f", {name} on GPU {gpu}" for name, gpu in gpus.items()), flush=True)
    try:
        for name in names:
            # The chief only serves the oracle and trains the final model at the end: it gets
            # every thread.
            child_env = {**env, TUNER_ID: name}
            if name in gpus:
                child_env["CUDA_VISIBLE_DEVICES"] = gpus[name]
            if name != "chief":
                child_env.update(TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS="1",
                                 OMP_NUM_THREADS=str(threads))
            procs[name] = subprocess.Popen(command, env=child_env, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True, **session)
            readers.append(threading.Thread(target=_stream, daemon=True,
                                            args=(name, procs[name], lock, held[name])))
            readers[-1].start()
        while True:
            failed = next((name for name, proc in procs.items()
                           if proc.poll() not in (None, 0)), None)
            if failed or all(proc.poll() == 0 for proc in procs.values()):
                break
            time.sleep(0.2)
    finally:
        _stop_all(procs)
        for reader in readers:  # Until the children's last lines are out, or in `held`.
            reader.join(timeout=10)
    return _say_why(failed, procs, held, folder) if failed else 0


def _say_why(failed, procs, held, folder):
    """Say once why the run ended when the child `failed` exited with an error, given each
    child's `held` last words; return the launcher's exit code.

    A child's exit 2 (a usage error, a refused write) or 1 with its line (no trial completed;
    a crash is exit 1 without one) is `cli.main`'s, whose one line says what to do: each
    distinct line of the children that ended so is passed on once, and no other advice.
    Any other failure (a crash, a kill) gets the failing child's last words and what a
    resume keeps.
    """
    code = procs[failed].returncode
    if code == EXIT_USAGE or code == EXIT_NO_TRIAL and held[failed]:
        print("\n".join(dict.fromkeys(line for name, proc in procs.items()
                                      if proc.returncode == code for line in held[name]))
              or f"error: {failed} exited with code {code}", file=sys.stderr)
        return code
    for line in held[failed]:
        print(f"[{failed}] {line}", file=sys.stderr)
    print(f"error: {failed} exited with code {code}; stopped the others; "
          f"{what_is_kept(folder)}", file=sys.stderr)
    return code if code > 0 else 1
