"""The zoo table's facts: SSSegmentation's `_train.pth` names, the right CE2P links, sizes beside hashes, pins."""

import re

import pytest

from humanparse.configs import get_config, list_configs
from humanparse.zoo.table import COMMERCIAL, SSSEG_MODELSTORE, ZOO, entry_of_file

CE2P_SSSEG = [name for name in ZOO if re.fullmatch(r"ce2p_resnet(50|101)os(8|16)_(lip|cihp|atr|voc)", name)]


def test_sssegmentation_urls_follow_the_model_stores_train_names():
    assert len(CE2P_SSSEG) == 16
    for name in CE2P_SSSEG:
        (file,) = ZOO[name].files
        assert file.name == f"{name}_train.pth"
        assert [source.url for source in file.sources] == [f"{SSSEG_MODELSTORE}/{name}_train.pth"]
    assert SSSEG_MODELSTORE == "https://github.com/SegmentationBLWX/modelstore/releases/download/ssseg_ce2p"


def test_every_hash_has_a_size_and_is_a_sha256():
    for entry in ZOO.values():
        for file in entry.files:
            if file.sha256 is not None:
                assert re.fullmatch(r"[0-9a-f]{64}", file.sha256), file.name
                assert isinstance(file.size, int) and file.size > 0, file.name


def test_every_entry_has_sources_licence_and_training_data():
    for entry in ZOO.values():
        assert entry.files and all(file.sources for file in entry.files), entry.name
        assert entry.licence.commercial in COMMERCIAL, entry.name
        assert entry.licence.name and entry.licence.short and entry.trained_on, entry.name
        for file in entry.files:
            for source in file.sources:
                assert source.url.startswith("https://"), source.url
                if source.kind == "baidu":
                    assert "pwd=" not in source.url  # the code is printed as a step, not hidden in the link


def test_file_paths_are_unique_and_bundles_are_folders():
    paths = [file.name for entry in ZOO.values() for file in entry.files]
    assert len(paths) == len(set(paths))
    for entry in ZOO.values():
        if entry.bundle:
            assert all(file.name.startswith(entry.bundle + "/") for file in entry.files), entry.name
        else:
            assert len(entry.files) == 1 and entry.path_name == entry.files[0].name


def test_hugging_face_mirrors_are_pinned_to_a_commit():
    for entry in ZOO.values():
        for file in entry.files:
            for source in file.sources:
                if "huggingface.co" in source.url and not source.label.startswith(
                    "authors: Hugging Face levihsu"
                ):
                    assert re.search(r"/resolve/[0-9a-f]{40}/", source.url), source.url


def test_ce2p_official_points_at_its_trained_model_not_imagenet():
    (file,) = ZOO["ce2p_official_resnet101_lip"].files
    urls = [source.url for source in file.sources]
    assert not any("1rzLU-wK6rEorCNJfwrmIu5hY2wRMyKTK" in url for url in urls)  # CSENet's ImageNet ResNet-101
    assert "https://drive.google.com/drive/folders/19I_MzMYzm2EYNvid9ySRvq66g_tZgkjm" in urls
    assert [source.kind for source in file.sources] == ["drive_folder", "baidu"]
    assert not ZOO["ce2p_official_resnet101_lip"].automatic


def test_known_facts_of_the_issue():
    schp = ZOO["schp_resnet101_lip"].files[0]
    assert (schp.name, schp.size) == ("exp-schp-201908261155-lip.pth", 267_449_349)
    assert schp.sources[0].kind == "drive" and schp.sources[0].drive_id == "1k4dllHpu0bdx38J7H28rVVLpU-kOHmnH"
    assert "34da45d44fc2b7efe6a54308f0a3ceac08470a19" in schp.sources[1].url
    assert ZOO["schp_resnet101_atr"].files[0].sources[0].drive_id == "1ruJg4lqR_jgQPj-9K0PP-L2vJERYOxLP"
    assert ZOO["schp_resnet101_pascal"].files[0].sources[0].drive_id == "1E5YwNKW2VOEayK9mWCS3Kpsxf-3z04ZE"
    atr = ZOO["ootd_parsing_atr"].files[0]
    assert atr.sources[-1].url.endswith(
        "938e5154885bb5de61afde9c7e16ae2558853fcd/ckpt/humanparsing/parsing_atr.onnx"
    )
    lip = ZOO["ootd_parsing_lip"].files[0]
    assert lip.sources[-1].url == (
        "https://huggingface.co/yisol/IDM-VTON/resolve/b2c05dc002d881cbc5d26e2cc2164c54f5c8458b/humanparsing/parsing_lip.onnx"
    )
    assert ZOO["ootd_parsing_lip"].licence.commercial == "no"
    fashn = ZOO["fashn_segformer_b4"]
    assert fashn.bundle and [f.name for f in fashn.files] == [
        "fashn_segformer_b4/config.json",
        "fashn_segformer_b4/model.safetensors",
    ]
    assert fashn.files[0].size == 1_654 and fashn.licence.commercial == "no"
    clothes = ZOO["segformer_b2_clothes"]
    assert clothes.files[0].sha256 is None and clothes.files[1].size == 109_493_236
    assert ZOO["cdgnet_resnet101_lip"].files[0].sources[0].code == "81la"
    assert ZOO["csenet_resnet101_lip"].files[0].sources[0].code == "bb9c"


@pytest.mark.parametrize("name", [name for name in ZOO if name in list_configs()])
def test_an_entry_with_a_recipe_has_its_classes(name):
    assert ZOO[name].classes == get_config(name).model.num_classes


def test_every_published_recipe_has_an_entry():
    published = [name for name in list_configs() if get_config(name).published.get("miou")]
    assert set(published) <= set(ZOO)


def test_a_file_name_finds_its_entry_only_when_unambiguous():
    assert entry_of_file("exp-schp-201908261155-lip.pth").name == "schp_resnet101_lip"
    assert entry_of_file("LIP_epoch_149.pth") is None  # CE2P's and CDGNet's
    assert entry_of_file("photo.jpg") is None


def test_the_runtime_of_a_zoo_name_comes_from_its_file():
    from humanparse.zoo.table import weights_suffix

    assert weights_suffix("ootd_parsing_atr") == ".onnx"
    assert weights_suffix("schp_resnet101_lip") == ".pth"
    assert weights_suffix("model.XML") == ".xml"


def test_the_cache_folder_is_one_place_the_variable_moves(monkeypatch, tmp_path):
    from pathlib import Path

    from humanparse.zoo.cache import cache_root, models_dir

    monkeypatch.setenv("HUMANPARSE_CACHE", str(tmp_path / "mine"))
    assert models_dir() == tmp_path / "mine" / "models"
    monkeypatch.delenv("HUMANPARSE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "humanparse"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "humanparse"
