"""GeoTIFF inputs (the SpaceNet sample, 16-bit panchromatic) get GeoTIFF labels in the same frame."""
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from samrs_mm.annotate.runner import AnnotateRunner
from tests.annotate.annotate_data import tree_files

rasterio = pytest.importorskip('rasterio')


def run(shared_data, work):
    cfg = dict(work_dir=str(work),
               source=dict(type='coco', ann_file=osp.join(shared_data, 'spacenet', 'coco_sample_2.json')),
               engine=dict(backend='box', prompt='hbox'),
               writer=dict(copy_images='png'), runner=dict(num_workers=0, progress=False))
    return AnnotateRunner(cfg).run()


def test_geotiff_label_in_the_input_frame(shared_data, tmp_path):
    summary = run(shared_data, tmp_path / 'a')
    assert (summary.labelled, summary.objects, summary.failed) == (1, 43, 0)
    label_png = np.asarray(Image.open(tmp_path / 'a' / 'semantic' / 'sample_geotiff.png'))
    with rasterio.open(tmp_path / 'a' / 'semantic' / 'sample_geotiff.tif') as out, \
            rasterio.open(osp.join(shared_data, 'spacenet', 'sample_geotiff.tif')) as src:
        assert out.crs == src.crs and out.crs.to_epsg() == 32616
        assert out.transform == src.transform and (out.width, out.height) == (src.width, src.height)
        assert out.nodata == 255 and out.count == 1 and out.dtypes == ('uint8',)
        np.testing.assert_array_equal(out.read(1), label_png)
    assert set(np.unique(label_png)) == {0, 1, 255}
    # copy_images='png': the 8-bit RGB the engine saw, beside the labels.
    with Image.open(tmp_path / 'a' / 'images' / 'sample_geotiff.png') as img:
        assert img.mode == 'RGB' and img.size == (900, 900)
    # The GeoTIFF bytes are reproducible (resume compares files byte for byte).
    run(shared_data, tmp_path / 'b')
    assert tree_files(str(tmp_path / 'a')) == tree_files(str(tmp_path / 'b'))
