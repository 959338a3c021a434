import pytest

from builder.images import KEEP_IMAGES, keep_images, tags_to_collect


def test_tags_beyond_the_newest_n_are_collected():
    assert tags_to_collect(["e", "d", "c", "b", "a"], 2) == ["c", "b", "a"]
    assert tags_to_collect(["b", "a"], 5) == []
    # A sha pushed twice (force push back to it) counts once, at its newest position.
    assert tags_to_collect(["c", "b", "c", "a"], 2) == ["a"]


def test_keep_images_setting():
    assert keep_images({}) == KEEP_IMAGES
    assert keep_images({"DEIS_BUILDER_KEEP_IMAGES": "3"}) == 3
    with pytest.raises(ValueError, match="must be at least 1"):
        keep_images({"DEIS_BUILDER_KEEP_IMAGES": "0"})
    with pytest.raises(ValueError, match="must be an integer"):
        keep_images({"DEIS_BUILDER_KEEP_IMAGES": "many"})
