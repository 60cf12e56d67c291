"""load_image / percentile stretch / GeoTIFF georeference, and HRSC ground-truth masks."""
import os.path as osp

import cv2
import numpy as np
import pytest

from samrs_mm.sources import AnnotationError, build_source, load_image, read_georef
from samrs_mm.sources.image_io import ImageIndex, image_size, percentile_stretch, to_rgb8


def test_percentile_stretch_exact():
    band = np.arange(101, dtype=np.uint16).reshape(1, -1)
    out = percentile_stretch(band, 2, 98)
    assert out.dtype == np.uint8
    assert out[0, 2] == 0 and out[0, 0] == 0  # at / below the low percentile
    assert out[0, 98] == 255 and out[0, 100] == 255  # at / above the high percentile
    assert out[0, 50] == 128  # (50 - 2) * 255 / 96 = 127.5, rounded half to even
    np.testing.assert_array_equal(percentile_stretch(np.full((3, 3), 7)), 0)  # constant band


def test_nodata_is_left_out_of_the_percentiles():
    band = np.array([[0, 0, 0, 0, 100, 200]], dtype=np.uint16)
    out = percentile_stretch(band, 0, 100, valid=band != 0)
    np.testing.assert_array_equal(out, [[0, 0, 0, 0, 0, 255]])


def test_to_rgb8_layouts():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb8(grey)
    assert rgb.shape == (3, 4, 3) and np.all(rgb == grey[..., None])  # uint8: no stretch
    rgba = np.dstack([grey, grey + 1, grey + 2, np.full_like(grey, 255)])
    np.testing.assert_array_equal(to_rgb8(rgba), rgba[..., :3])
    five = np.stack([np.full((2, 2), v, np.uint8) for v in range(5)], -1)
    np.testing.assert_array_equal(to_rgb8(five, bands=(5, 3, 1))[0, 0], [4, 2, 0])
    with pytest.raises(ValueError, match='out of range'):
        to_rgb8(five, bands=(6,))


def test_load_image_is_rgb(tmp_path):
    path = str(tmp_path / 'red.png')
    bgr = np.zeros((5, 7, 3), np.uint8)
    bgr[..., 2] = 200  # red in OpenCV's BGR order
    cv2.imwrite(path, bgr)
    image = load_image(path)
    assert image.shape == (5, 7, 3)
    np.testing.assert_array_equal(image[0, 0], [200, 0, 0])
    assert image_size(path) == (7, 5)
    assert read_georef(path) is None


def test_16bit_png_is_stretched(tmp_path):
    path = str(tmp_path / 'deep.png')
    band = (np.arange(100, dtype=np.uint16) * 600).reshape(10, 10)
    cv2.imwrite(path, band)
    image = load_image(path)
    assert image.dtype == np.uint8 and image.shape == (10, 10, 3)
    np.testing.assert_array_equal(image[..., 0], percentile_stretch(band, 2, 98))
    assert image.min() == 0 and image.max() == 255


def test_geotiff_stretch_matches_rasterio(shared_data):
    rasterio = pytest.importorskip('rasterio')
    path = osp.join(shared_data, 'spacenet/sample_geotiff.tif')
    with rasterio.open(path) as ds:
        band = ds.read(1)
        nodata = ds.nodata
        assert ds.count == 1 and band.dtype == np.uint16
    valid = None if nodata is None else band != nodata
    image = load_image(path)
    np.testing.assert_array_equal(image[..., 0], percentile_stretch(band, 2, 98, valid))
    wide = load_image(path, stretch=(0, 100))
    assert not np.array_equal(wide, image)
    georef = read_georef(path)
    assert georef['epsg'] == 32616 and georef['transform'][:3] == (0.5, 0.0, 733601.0)
    assert (georef['width'], georef['height']) == (900, 900)


def test_image_index_multiple_folders(tmp_path):
    for folder, name in (('a', 'x.jpg'), ('a', 'x.png'), ('b', 'x.png'), ('b', 'y.tif'), ('b', 'z.txt')):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_bytes(b'')
    index = ImageIndex([str(tmp_path / 'a'), str(tmp_path / 'b')])
    assert index.lookup('x') == str(tmp_path / 'a' / 'x.png')  # first folder, .png before .jpg
    assert index.lookup('x', 'x.jpg') == str(tmp_path / 'a' / 'x.jpg')
    assert index.lookup('y') == str(tmp_path / 'b' / 'y.tif')
    assert index.lookup('z') is None and len(index) == 2


HRSC_XML = """<HRSC_Image>
  <Img_ID>7</Img_ID>
  <Img_FileName>7</Img_FileName>
  <Img_FileFmt>bmp</Img_FileFmt>
  <Img_SizeWidth>40</Img_SizeWidth>
  <Img_SizeHeight>30</Img_SizeHeight>
  <Img_SegFileName>7</Img_SegFileName>
  <Img_SegFileFmt>png</Img_SegFileFmt>
  <HRSC_Objects>
    <HRSC_Object>
      <Class_ID>100000002</Class_ID>
      <difficult>0</difficult>
      <box_xmin>2</box_xmin><box_ymin>3</box_ymin><box_xmax>12</box_xmax><box_ymax>9</box_ymax>
      <mbox_cx>7</mbox_cx><mbox_cy>6</mbox_cy><mbox_w>10</mbox_w><mbox_h>6</mbox_h><mbox_ang>0</mbox_ang>
      <seg_color>255,0,0</seg_color>
    </HRSC_Object>
    <HRSC_Object>
      <Class_ID>100000005</Class_ID>
      <difficult>1</difficult>
      <box_xmin>20</box_xmin><box_ymin>10</box_ymin><box_xmax>26</box_xmax><box_ymax>28</box_ymax>
      <mbox_cx>23</mbox_cx><mbox_cy>19</mbox_cy><mbox_w>6</mbox_w><mbox_h>18</mbox_h><mbox_ang>0</mbox_ang>
      <seg_color>{second}</seg_color>
    </HRSC_Object>
  </HRSC_Objects>
</HRSC_Image>
"""


def make_hrsc(tmp_path, second_colour='0, 255, 0'):
    for name in ('Annotations', 'AllImages', 'Segmentations', 'LandMask'):
        (tmp_path / name).mkdir(exist_ok=True)
    (tmp_path / 'Annotations' / '7.xml').write_text(HRSC_XML.format(second=second_colour))
    cv2.imwrite(str(tmp_path / 'AllImages' / '7.bmp'), np.zeros((30, 40, 3), np.uint8))
    seg = np.zeros((30, 40, 3), np.uint8)
    seg[3:9, 2:12] = (0, 0, 255)  # BGR red
    seg[10:28, 20:26] = (0, 255, 0)  # green
    cv2.imwrite(str(tmp_path / 'Segmentations' / '7.png'), seg)
    cv2.imwrite(str(tmp_path / 'LandMask' / '7.bmp'), np.zeros((30, 40), np.uint8))
    return str(tmp_path / 'Annotations')


def test_hrsc_masks_from_seg_colour(tmp_path):
    source = build_source(type='hrsc', ann_dir=make_hrsc(tmp_path))
    rec = source[0]
    assert rec.image_path == str(tmp_path / 'AllImages' / '7.bmp')
    assert rec.meta['land_mask'] == str(tmp_path / 'LandMask' / '7.bmp')
    first, second = rec.instances
    m1, m2 = first.decode_mask(), second.decode_mask()
    assert m1.shape == (30, 40) and m1.sum() == 60 and m1[3:9, 2:12].all()
    assert m2.sum() == 108 and m2[10:28, 20:26].all()
    assert second.difficult and not first.difficult
    # Tall box: le90 swaps the sides and turns by -pi/2.
    np.testing.assert_allclose(second.rbox, [23, 19, 18, 6, -np.pi / 2])
    no_masks = build_source(type='hrsc', ann_dir=str(tmp_path / 'Annotations'), with_masks=False)[0]
    assert all(i.mask is None for i in no_masks.instances)


def test_hrsc_colour_missing_from_segmentation(tmp_path):
    ann_dir = make_hrsc(tmp_path, second_colour='0,0,255')
    with pytest.raises(AnnotationError) as info:
        build_source(type='hrsc', ann_dir=ann_dir)[0]
    assert info.value.reason == 'missing-mask'
    assert '7.xml:' in str(info.value) and 'does not occur' in str(info.value)
