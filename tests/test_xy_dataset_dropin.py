"""JetRacer's XYDataset, drop-in: NVIDIA's interactive_regression cells run with only the import
changed, give JetRacer's items (BGR image, flips), and the model they save drives here."""

import logging
import os

import numpy as np
import pytest
import torch
import torchvision
import torchvision.transforms as transforms
from jetracer_reference import jetracer_steer

from jetracer.data.xy_dataset import XYDataset
from jetracer.engine import load_engine
from jetracer.engine.frames import sim_frames

CATEGORIES = ["apex"]
PLAIN = transforms.Compose([
    transforms.Resize((224, 224)),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])


@pytest.fixture(scope="module")
def camera_frames():
    return sim_frames(8, (224, 224), seed=2)  # what camera.value holds: BGR uint8 224x224


@pytest.fixture
def dataset_a(tmp_path, camera_frames):
    dataset = XYDataset(str(tmp_path / "road_following_A"), CATEGORIES, PLAIN, random_hflip=True)
    for i, frame in enumerate(camera_frames):
        dataset.save_entry("apex", frame, 20 + 20 * i, 100 + i)  # the click handler's call
    return dataset


def jetracer_item(ann, transform, random_hflip):
    """JetRacer's xy_dataset.XYDataset.__getitem__, re-typed (cv2.imread, fromarray unswapped)."""
    import cv2
    import PIL.Image

    image = PIL.Image.fromarray(cv2.imread(ann["image_path"], cv2.IMREAD_COLOR))
    width, height = image.width, image.height
    image = transform(image)
    x = 2.0 * (ann["x"] / width - 0.5)
    y = 2.0 * (ann["y"] / height - 0.5)
    if random_hflip and float(np.random.random(1)[0]) > 0.5:  # [0]: numpy 2 refuses float() of a 1-d array
        image = torch.from_numpy(image.numpy()[..., ::-1].copy())
        x = -x
    return image, ann["category_index"], torch.Tensor([x, y])


def test_save_entry_writes_jetracers_files_and_counts(dataset_a, tmp_path):
    folder = tmp_path / "road_following_A" / "apex"
    names = sorted(os.listdir(str(folder)))
    assert len(names) == 8 and dataset_a.get_count("apex") == 8 and len(dataset_a) == 8
    assert dataset_a.get_count("other") == 0
    for name in names:  # JetRacer's _parse: basename.split('_')[:2]
        x, y = (int(v) for v in name.split("_")[:2])
        assert name.endswith(".jpg") and 20 <= x <= 160 and 100 <= y <= 107
    ann = dataset_a.annotations[0]
    assert set(ann) == {"image_path", "category_index", "category", "x", "y"} and ann["category"] == "apex"


def test_items_are_jetracers_including_the_flips(dataset_a):
    import cv2

    np.random.seed(7)
    ours = [dataset_a[i] for i in range(len(dataset_a))]
    np.random.seed(7)
    theirs = [jetracer_item(a, PLAIN, True) for a in dataset_a.annotations]
    for (img, cat, xy), (want_img, want_cat, want_xy) in zip(ours, theirs):
        assert cat == want_cat == 0
        assert torch.equal(xy, want_xy) and torch.allclose(img, want_img)
    signs = [np.sign(xy[0].item()) * np.sign(a["x"] - 112) for (_, _, xy), a in zip(ours, dataset_a.annotations)]
    assert -1 in signs and 1 in signs  # some items were flipped (x negated), some not
    # BGR, unswapped: channel 0 of the tensor is the file's blue, normalised with the red statistics
    blue = cv2.imread(dataset_a.annotations[1]["image_path"])[:, :, 0].astype(np.float32) / 255.0
    plain = XYDataset(dataset_a.directory, CATEGORIES, PLAIN)[1][0]
    assert torch.allclose(plain[0], (torch.from_numpy(blue) - 0.485) / 0.229, atol=1e-5)


@pytest.mark.slow
def test_interactive_regression_training_cells_run_and_the_saved_model_drives_here(dataset_a, tmp_path,
                                                                                    camera_frames):
    # the notebook's cells, imports changed; pretrained=False only because nothing is downloaded here
    TRANSFORMS = transforms.Compose([
        transforms.ColorJitter(0.2, 0.2, 0.2, 0.2),
        transforms.Resize((224, 224)),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    ])
    dataset = XYDataset(dataset_a.directory, CATEGORIES, TRANSFORMS, random_hflip=True)
    device = torch.device("cpu")
    output_dim = 2 * len(dataset.categories)
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Linear(512, output_dim)
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters())
    train_loader = torch.utils.data.DataLoader(dataset, batch_size=8, shuffle=True)
    model = model.train()
    for images, category_idx, xy in iter(train_loader):
        images, xy = images.to(device), xy.to(device)
        optimizer.zero_grad()
        outputs = model(images)
        loss = 0.0
        for batch_idx, cat_idx in enumerate(list(category_idx.flatten())):
            loss += torch.mean((outputs[batch_idx][2 * cat_idx:2 * cat_idx + 2] - xy[batch_idx]) ** 2)
        loss /= len(category_idx)
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)
    model = model.eval()
    path = tmp_path / "road_following_model.pth"
    torch.save(model.state_dict(), str(path))  # the notebook's save_model

    # JetRacer's live cell (utils.preprocess on camera.value) and our engine on that file agree
    engine = load_engine(path, backend="torch")
    ours = np.array([engine(f)[0] for f in camera_frames])
    assert np.abs(ours - jetracer_steer(model, camera_frames)).max() < 1e-3


def test_bad_files_are_skipped_not_fatal(tmp_path, camera_frames, caplog):
    dataset = XYDataset(tmp_path / "d", ["apex", "never_clicked"], PLAIN)
    assert len(dataset) == 0
    with pytest.raises(IndexError):
        dataset[0]
    dataset.save_entry("apex", camera_frames[0], 10, 20)
    dataset.save_entry("apex", camera_frames[1], 30, 40)
    folder = tmp_path / "d" / "apex"
    (folder / "notes.txt").write_text("not a sample")
    (folder / "holiday.jpg").write_bytes(b"\xff\xd8 not a picture")
    damaged = sorted(p for p in folder.iterdir() if p.name.startswith("10_"))[0]
    damaged.write_bytes(b"\xff\xd8\xff truncated")
    with caplog.at_level(logging.WARNING):
        dataset.refresh()
        assert len(dataset) == 2 and "holiday.jpg" in caplog.text
        image, _, xy = dataset[0]  # the damaged one: the next readable sample instead
    assert "cannot read" in caplog.text and image.shape == (3, 224, 224)
    assert xy[0].item() == pytest.approx(2.0 * (30 / 224 - 0.5))
    from jetracer.errors import DataError

    with pytest.raises(DataError):
        dataset.save_entry("../escape", camera_frames[0], 1, 1)
    with pytest.raises(DataError):
        dataset.save_entry("apex", "not an image", 1, 1)


def test_without_a_transform_items_are_pil_and_flip_too(dataset_a):
    raw = XYDataset(dataset_a.directory, CATEGORIES, random_hflip=True)
    np.random.seed(0)
    items = [raw[0] for _ in range(8)]  # sample 0 was clicked at x = 20: left of centre
    plain = [item for item in items if item[2][0].item() < 0]
    flipped = [item for item in items if item[2][0].item() > 0]
    assert plain and flipped and flipped[0][2][0].item() == pytest.approx(-plain[0][2][0].item())
    assert np.array_equal(np.asarray(flipped[0][0]), np.asarray(plain[0][0])[:, ::-1])
