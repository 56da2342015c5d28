"""What a new user meets first: the command list, whole summaries, one spelling per option, predict's
positionals, the note after Ctrl-C."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image

from humanparse.cli import COMMANDS, build_parser, main, summary
from humanparse.cli.options import resolve_model_arguments


def _subparsers(parser: argparse.ArgumentParser):
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


def test_bare_humanparse_prints_the_command_list(capsys):
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "usage: humanparse" in out
    for command in COMMANDS:
        assert f"\n    {command}" in out, command


def test_top_level_help_shows_whole_summaries(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "optionally masks of class groups, an overlay and the logits." in out
    for name, sub in _subparsers(build_parser()).items():
        text = summary(sub.description)
        assert text.endswith((".", ")")) and text in " ".join(sub.description.split()), name


def test_summary_keeps_a_wrapped_first_sentence():
    doc = (
        "Parse photos: a map per photo, optionally masks of class\ngroups and the logits. Streaming.\n\nMore."
    )
    assert summary(doc) == "Parse photos: a map per photo, optionally masks of class groups and the logits."


def test_device_option_is_the_same_in_every_command():
    for name, sub in _subparsers(build_parser()).items():
        device = [a for a in sub._actions if "--device" in a.option_strings]
        if device:
            assert tuple(device[0].choices) == ("cpu", "cuda") and device[0].default == "cpu", name


def test_one_name_and_form_per_option():
    """The batch size, the network input size and the device: one name, one form, in every command."""
    forms = {}
    for name, sub in _subparsers(build_parser()).items():
        for action in sub._actions:
            visible = action.help != argparse.SUPPRESS
            for option in action.option_strings:
                if option in ("--batch-size", "--input-size", "--device"):
                    forms.setdefault(option, set()).add(
                        (action.nargs, action.type, tuple(action.choices or ()))
                    )
                if option in ("--batch", "--size") and name == "benchmark":
                    assert not visible, f"benchmark still shows {option}"
    assert forms == {
        "--batch-size": {(None, int, ())},
        "--input-size": {(2, int, ())},
        "--device": {(None, None, ("cpu", "cuda"))},
    }


def _args(config, checkpoint, inputs=()):
    return argparse.Namespace(config=config, checkpoint=checkpoint, inputs=list(inputs), backend=None)


def test_a_folder_or_photo_in_the_weights_place_is_an_input_with_zoo_weights(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    args = _args("ce2p_resnet50os8_lip", str(photos))
    resolve_model_arguments(args, positional="inputs")
    assert args.checkpoint == "ce2p_resnet50os8_lip" and args.inputs == [str(photos)]
    args = _args("ce2p_resnet50os8_lip", "photo.jpg", ["more.png"])
    resolve_model_arguments(args, positional="inputs")
    assert args.checkpoint == "ce2p_resnet50os8_lip" and args.inputs == ["photo.jpg", "more.png"]
    args = _args("ce2p_resnet50os8_lip", "weights.pth", ["photo.jpg"])  # the usual form is untouched
    resolve_model_arguments(args, positional="inputs")
    assert args.checkpoint == "weights.pth" and args.inputs == ["photo.jpg"]


@pytest.mark.parametrize("form", ["folder", "photo"])
def test_a_folder_or_photo_without_published_weights_says_the_weights_are_missing(tmp_path, capsys, form):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photos / "a.jpg")
    target = photos if form == "folder" else photos / "a.jpg"
    assert main(["predict", "ce2p_tiny_synthetic", str(target), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"is a {form} to parse, not weights" in err and "no weights were given" in err
    assert "no input photos" not in err


def test_a_zoo_name_with_a_folder_goes_to_the_zoo_weights(tmp_path, capsys, monkeypatch):
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photos" / "a.jpg")
    assert (
        main(["predict", "schp_resnet101_lip", str(tmp_path / "photos"), "--out", str(tmp_path / "o")]) == 2
    )
    err = capsys.readouterr().err
    assert "humanparse download schp_resnet101_lip" in err and "no input photos" not in err


def test_ctrl_c_during_predict_says_a_rerun_resumes(monkeypatch, capsys):
    from humanparse.cli import predict

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(predict, "run", interrupted)
    assert main(["predict", "ce2p_tiny_synthetic", "w.pth", "photos/", "--out", "o"]) == 130
    assert "interrupted; rerun the same command to resume" in capsys.readouterr().err
