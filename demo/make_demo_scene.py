"""Turn a shipped demo image and its DOTA labels into a georeferenced scene for the scene tools.

``make demo`` calls it on ``demo/data/dota`` (D0001, 1400 x 1150): the image becomes a tiled
GeoTIFF in UTM zone 16N (EPSG:32616) at the label file's ground sample distance, and the
boxes a GeoPackage in WGS84 longitude / latitude (field ``class``), so
``tools/annotate_scene.py`` has to reproject them, as it would real vector data.

    python demo/make_demo_scene.py --image demo/data/dota/images/D0001.png \\
        --labels demo/data/dota/labelTxt/D0001.txt --out-dir work_dirs/demo/scene
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

# A made-up place for the synthetic scene (north-east of Huntsville, Alabama, in UTM 16N).
CRS = 'EPSG:32616'
ORIGIN = (540000.0, 3850000.0)


def main(argv=None):
    """Write ``scene.tif`` and ``boxes.gpkg`` into ``--out-dir``."""
    from samrs_mm.scenes.vectors import fixed_gpkg_timestamp
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--image', required=True)
    parser.add_argument('--labels', required=True, help='the DOTA label file of the image')
    parser.add_argument('--out-dir', required=True)
    args = parser.parse_args(argv)

    import geopandas
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import Polygon

    from samrs_mm.sources import build_source, load_image
    folder = osp.dirname(osp.abspath(args.labels))
    record = next(r for r in build_source(type='dota', ann_dir=folder, img_dir=osp.dirname(osp.abspath(args.image)),
                                          class_list='sota')
                  if osp.splitext(osp.basename(r.image_path))[0] == osp.splitext(osp.basename(args.labels))[0])
    gsd = float(record.meta.get('gsd') or 0.3)
    transform = from_origin(ORIGIN[0], ORIGIN[1], gsd, gsd)
    image = load_image(record)
    os.makedirs(args.out_dir, exist_ok=True)
    scene = osp.join(args.out_dir, 'scene.tif')
    with rasterio.open(scene, 'w', driver='GTiff', width=image.shape[1], height=image.shape[0], count=3,
                       dtype='uint8', crs=CRS, transform=transform, tiled=True, blockxsize=256, blockysize=256,
                       compress='deflate') as dst:
        dst.write(np.moveaxis(image, -1, 0))
    polygons = []
    for inst in record.instances:
        xs, ys = transform * (inst.quad[:, 0], inst.quad[:, 1])
        polygons.append(Polygon(np.stack([xs, ys], axis=-1)))
    boxes = geopandas.GeoDataFrame({'class': [i.class_name for i in record.instances]}, geometry=polygons, crs=CRS)
    with fixed_gpkg_timestamp():  # the same file on every run
        boxes.to_crs('EPSG:4326').to_file(osp.join(args.out_dir, 'boxes.gpkg'), engine='pyogrio')
    print(f'{scene}: {image.shape[1]} x {image.shape[0]} px, {gsd} m, {CRS}; '
          f'{len(polygons)} boxes in {osp.join(args.out_dir, "boxes.gpkg")} (EPSG:4326)')


if __name__ == '__main__':
    main()
