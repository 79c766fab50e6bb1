"""What training shows: a bar that keeps the validation loss on a terminal, lines elsewhere."""

from vaekit.training.progress import Bar, Lines, Silent, reporter


def test_a_terminal_gets_a_bar_that_keeps_the_validation_loss_and_stays_on_screen(capsys):
    bar = reporter(True, total=20, initial=0, echo=None, terminal=True)
    assert isinstance(bar, Bar) and bar.bar.leave
    bar.start_epoch(1, 2, 10)
    bar.log(10, 10, 33.3)
    bar.end_epoch({"train_loss": 33.3, "valid_loss": 31.2})
    bar.start_epoch(2, 2, 10)
    bar.log(20, 10, 30.1)  # the next log point keeps the last validation loss beside the running loss
    bar.close()
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "epoch 2/2" in last and "loss=30.10" in last and "valid_loss=31.20" in last and "20/20" in last


def test_off_a_terminal_epoch_lines_and_one_every_few_seconds():
    lines = []
    report = reporter(True, total=20, initial=0, echo=lines.append, terminal=False)
    assert isinstance(report, Lines)
    report.every_s = 0.0  # as if every log point were 30 s apart
    report.start_epoch(1, 2, 10)
    report.log(5, 5, 40.0)
    report.end_epoch({"train_loss": 33.3, "valid_loss": 31.2, "elapsed_s": 1.5})
    assert lines == ["epoch 1/2 step 5/10: loss 40.000", "epoch 1/2: train_loss 33.300, valid_loss 31.200 nats (1.50 s)"]
    assert isinstance(reporter(False, 20, 0, lines.append), Silent) and isinstance(reporter(True, 20, 0, None, terminal=False), Silent)


def test_fast_epochs_do_not_flood_a_log():
    lines = []
    report = Lines(lines.append)  # epochs far shorter than 5 s
    for epoch in range(1, 201):
        report.start_epoch(epoch, 200, 10)
        report.end_epoch({"train_loss": 1.0, "elapsed_s": 0.01 * epoch})
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/200", "epoch 200/200"]
