"""Bad arguments to the campaign runner (configs/reproduce/run.sh): one line, exit 2, nothing
written (docs/errors.md, "The reproduction campaign's runner")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "configs" / "reproduce" / "run.sh"
DOCS = ROOT / "docs" / "errors.md"

CASES = [
    ("runner-no-stage", [], 2, "usage: run.sh"),
    ("runner-unknown-stage", ["k24_parityy"], 2, "no stage k24_parityy"),
    ("runner-unknown-mode", ["k24_parity:analyse"], 2, "the mode after ':' must be analyze, robustness or post"),
    ("runner-nothing-to-stop", ["--stop"], 1, "no campaign queue is running"),
    ("runner-stage-not-running", ["--stop", "k24_dms"], 1, "no campaign queue of k24_dms is running"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_arguments_are_one_line_and_write_nothing(case, tmp_path):
    _, argv, code, message = case
    campaign = tmp_path / "campaign"
    proc = subprocess.run(["bash", str(RUNNER), *argv], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CAMPAIGN_DIR": str(campaign)})
    assert proc.returncode == code, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not campaign.exists() or not any(campaign.iterdir())


def test_every_case_is_in_the_docs_table():
    text = DOCS.read_text()
    assert not [c[0] for c in CASES if f"`{c[0]}`" not in text]


def _listening_queues(tmp_path: Path, k: int) -> list[subprocess.Popen]:
    """``k`` stand-ins for campaign queues, each its own process group, that answer SIGINT with exit
    code 42 (their own handler: a process started in the background by a non-interactive shell may
    have inherited SIGINT ignored); returns once all are listening."""
    import sys
    import time

    listen = ("import signal, sys, time, pathlib; signal.signal(signal.SIGINT, lambda *a: sys.exit(42)); "
              "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)")
    ready = [tmp_path / f"ready{i}" for i in range(k)]
    queues = [subprocess.Popen([sys.executable, "-c", listen, str(r)], start_new_session=True) for r in ready]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready):
        if time.monotonic() > deadline:
            for q in queues:
                q.kill()
            raise AssertionError("the queues did not start")
        time.sleep(0.05)
    return queues


def test_stop_interrupts_every_queue(tmp_path):
    """Two queues on one campaign (a stage started twice): --stop sends SIGINT to both process groups."""
    campaign = tmp_path / "campaign"
    campaign.mkdir()
    queues = _listening_queues(tmp_path, 2)
    try:
        (campaign / "queue.pid").write_text("".join(f"{q.pid}\n" for q in queues))
        proc = subprocess.run(["bash", str(RUNNER), "--stop"], capture_output=True, text=True, timeout=60,
                              env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CAMPAIGN_DIR": str(campaign)})
        assert proc.returncode == 0, proc.stderr
        assert [q.wait(timeout=30) for q in queues] == [42, 42]  # both received SIGINT
        assert not (campaign / "queue.pid").exists()
    finally:
        for q in queues:
            q.kill()


def test_stop_with_a_stage_interrupts_only_the_queues_started_with_it(tmp_path):
    """queue.pid records what each queue was started with: --stop k24_fixed_tau stops that queue alone
    and keeps the other's line; a line of an older runner (a pid alone) is stopped by --stop only."""
    campaign = tmp_path / "campaign"
    campaign.mkdir()
    queues = _listening_queues(tmp_path, 3)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CAMPAIGN_DIR": str(campaign)}
    try:
        (campaign / "queue.pid").write_text(f"{queues[0].pid} k24_parity k24_parity:analyze\n"
                                            f"{queues[1].pid} k24_fixed_tau\n{queues[2].pid}\n")
        proc = subprocess.run(["bash", str(RUNNER), "--stop", "k24_fixed_tau"], capture_output=True, text=True,
                              timeout=60, env=env)
        assert proc.returncode == 0 and "k24_fixed_tau" in proc.stdout, proc.stderr
        assert queues[1].wait(timeout=30) == 42
        assert queues[0].poll() is None and queues[2].poll() is None
        assert (campaign / "queue.pid").read_text() == (f"{queues[0].pid} k24_parity k24_parity:analyze\n"
                                                         f"{queues[2].pid} \n")
        proc = subprocess.run(["bash", str(RUNNER), "--stop", "k24_dms"], capture_output=True, text=True, timeout=60,
                              env=env)
        assert proc.returncode == 1 and "no campaign queue of k24_dms is running" in proc.stderr
        proc = subprocess.run(["bash", str(RUNNER), "--stop"], capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0 and [queues[0].wait(timeout=30), queues[2].wait(timeout=30)] == [42, 42]
        assert not (campaign / "queue.pid").exists()
    finally:
        for q in queues:
            q.kill()


def test_a_queue_started_in_the_background_is_stopped_by_stop(tmp_path):
    """The runner itself: a stage started in the background is recorded in queue.pid by its process
    group, and --stop ends it, also a command that leaves SIGINT to its default (as robustness does).
    The stage's install is faked: a venv whose rnn-timescales sleeps."""
    import os
    import signal
    import stat
    import time

    campaign = tmp_path / "campaign"
    rev = "0123456789" + "0" * 30
    (campaign / f"venv-{rev[:10]}" / "bin").mkdir(parents=True)
    fake = campaign / f"venv-{rev[:10]}" / "bin" / "rnn-timescales"
    fake.write_text(f"#!/bin/bash\necho $$ > {tmp_path / 'started.tmp'}\nmv {tmp_path / 'started.tmp'} "
                    f"{tmp_path / 'started'}\nsleep 60\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (campaign / "k24_parity.robustness.revision").write_text(rev + "\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "CAMPAIGN_DIR": str(campaign)}
    # started with SIGINT ignored, as from a script's `nohup ... &` or a CI job: the queue must still stop
    proc = subprocess.run(["bash", str(RUNNER), "k24_parity:robustness"], capture_output=True, text=True, timeout=60,
                          env=env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert proc.returncode == 0, proc.stderr
    group, stages = (campaign / "queue.pid").read_text().split(maxsplit=1)
    assert stages.strip() == "k24_parity:robustness" and f"process group {group}" in proc.stdout
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists():
            assert time.monotonic() < deadline, "the queue did not start its command"
            time.sleep(0.05)
        command = int((tmp_path / "started").read_text())
        assert os.getpgid(command) == int(group)  # the recorded pid is the group the stage's command runs in
        proc = subprocess.run(["bash", str(RUNNER), "--stop"], capture_output=True, text=True, timeout=60, env=env)
        assert proc.returncode == 0, proc.stderr
        deadline = time.monotonic() + 30
        while _alive(command):
            assert time.monotonic() < deadline, "the stage's command did not stop"
            time.sleep(0.05)
    finally:
        if (tmp_path / "started").exists() and _alive(int((tmp_path / "started").read_text())):
            os.killpg(os.getpgid(int((tmp_path / "started").read_text())), 9)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, ended but not yet reaped, counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_paper_robustness_without_a_checkout_is_refused_in_one_line(tmp_path):
    """configs/reproduce/paper_robustness.py: a path that is not the paper's checkout (docs/errors.md,
    `paper-robustness-no-checkout`): one line, exit 2, nothing written."""
    import sys

    out = tmp_path / "results"
    proc = subprocess.run([sys.executable, str(ROOT / "configs" / "reproduce" / "paper_robustness.py"),
                           str(tmp_path / "nowhere"), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "give a checkout of LevinaLab/rnn_timescale_public" in lines[0]
    assert not out.exists()
    assert "`paper-robustness-no-checkout`" in DOCS.read_text()
