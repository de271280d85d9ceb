import numpy as np

from dataset.voc import load_voc
from tools.make_synthetic_voc import CLASSES, MAX_SCALE, MIN_SCALE, generate, main, render_image


def test_same_seed_same_files_different_seed_different(tmp_path):
    a = generate(tmp_path / "a", trainval=3, test=1, seed=11)
    b = generate(tmp_path / "b", trainval=3, test=1, seed=11)
    c = generate(tmp_path / "c", trainval=3, test=1, seed=12)
    for sub in ("JPEGImages/000002.jpg", "Annotations/000002.xml"):
        assert (a / sub).read_bytes() == (b / sub).read_bytes()
        assert (a / sub).read_bytes() != (c / sub).read_bytes()
    # image i depends only on (seed, i): a larger dataset keeps the first images
    d = generate(tmp_path / "d", trainval=5, test=0, seed=11)
    assert (a / "JPEGImages/000001.jpg").read_bytes() == (d / "JPEGImages/000001.jpg").read_bytes()


def test_parallel_jobs_write_the_same_files(tmp_path):
    one = generate(tmp_path / "one", trainval=4, test=1, seed=5)
    two = generate(tmp_path / "two", trainval=4, test=1, seed=5, jobs=2)
    files = sorted(f.relative_to(one) for f in one.rglob("*") if f.is_file())
    assert len(files) == 5 * 2 + 3  # images + annotations, two image sets, classes.txt
    for f in files:
        assert (one / f).read_bytes() == (two / f).read_bytes(), f


def test_dataset_properties_over_many_images():
    sides, per_image, difficult, truncated, empty = [], [], 0, 0, 0
    for i in range(150):
        img, objects = render_image(np.random.default_rng([5, i]))
        h, w = img.shape[:2]
        assert img.dtype == np.uint8 and 240 <= h <= 400 and 320 <= w <= 480
        per_image.append(len(objects))
        empty += not objects
        for o in objects:
            x1, y1, x2, y2 = o.box
            assert 1 <= x1 < x2 <= w and 1 <= y1 < y2 <= h
            sides.append(max(x2 - x1, y2 - y1) / min(w, h))
            difficult += o.difficult
            truncated += o.truncated
    sides = np.array(sides)
    assert sides.min() < 1.5 * MIN_SCALE and sides.max() > 0.8 * MAX_SCALE  # ~5% .. ~80%
    assert np.mean(sides < 0.15) > 0.2 and np.mean(sides > 0.4) > 0.1
    assert max(per_image) >= 5 and empty >= 1
    assert difficult >= 5 and truncated >= 10


def test_cli_writes_a_readable_voc_folder(tmp_path, capsys):
    argv = ["--out", str(tmp_path), "--name", "toy", "--trainval", "4", "--test", "2", "--seed", "1"]
    assert main(argv) == 0
    root = tmp_path / "VOCdevkit" / "toy"
    names = (root / "classes.txt").read_text().split()
    assert tuple(names) == CLASSES
    assert len(load_voc(root, "trainval", names)) == 4 and len(load_voc(root, "test", names)) == 2
