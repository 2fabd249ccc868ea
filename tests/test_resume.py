"""A resumed Bayesian search proposes, to the last digit, what an uninterrupted one proposes,
however the file system lists the trial folders."""

import signal

import pytest

from helpers import SCRIPTS, read_summary, start_script, tiny_args, wait_for

BAYESIAN = "bayesian_optimization"


def folders_listed_newest_first(monkeypatch):
    """Make KerasTuner's reload find the trial folders newest first, as some file systems list
    them (ext4 lists them in the order of a hash of their names)."""
    from keras_tuner.src.backend import io as kt_io

    listed = kt_io.glob
    monkeypatch.setattr(kt_io, "glob", lambda pattern: sorted(listed(pattern), reverse=True))


def test_a_reloaded_oracle_holds_its_trials_in_the_order_they_were_created(
        tmp_path, monkeypatch):
    from fashion_tuning.config import Config
    from fashion_tuning.tuner import make_oracle

    def oracle():
        made = make_oracle(BAYESIAN, Config(max_trials=3), seed=1)
        made._set_project_dir(tmp_path, BAYESIAN)
        return made

    first = oracle()
    first.hyperparameters.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    for score in (0.3, 0.2, 0.1):
        trial = first.create_trial("tuner0")
        first.update_trial(trial.trial_id, {"val_accuracy": score})
        trial.status = "COMPLETED"
        first.end_trial(trial)
    first.save()
    folders_listed_newest_first(monkeypatch)
    resumed = oracle()
    resumed.reload()
    assert list(resumed.trials) == list(first.trials) == ["0", "1", "2"]


def trials(results):
    """What each trial of the Bayesian search in `results` tried and scored."""
    return [(t["trial_id"], t["status"], t["hyperparameters"], t["val_accuracy"])
            for t in read_summary(results / BAYESIAN)["trials"]]


@pytest.mark.slow
def test_a_search_killed_between_trials_proposes_what_an_uninterrupted_one_does(
        tiny_data, tmp_path, run_in_process, monkeypatch):
    def args(results):  # Trial 0 hand-picked, 1 random: the Gaussian process proposes 2 to 4.
        return tiny_args(tiny_data, tmp_path / results, "--initial-points", 2,
                         "--final-recipe", "none", trials=5)

    reference = run_in_process(*args("uninterrupted"), strategy=BAYESIAN)
    assert reference.returncode == 0, reference.stderr[-2000:]
    killed = start_script(SCRIPTS[BAYESIAN], *args("resumed"))
    wait_for(tmp_path / "resumed" / BAYESIAN / "trial_2" / "trial_log.json", killed)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=60)
    folders_listed_newest_first(monkeypatch)
    resumed = run_in_process(*args("resumed"), strategy=BAYESIAN)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Reloading Tuner" in resumed.stdout
    assert trials(tmp_path / "resumed") == trials(tmp_path / "uninterrupted")
