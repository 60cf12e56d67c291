"""Small synthetic DOTA-format datasets and annotate configs for the runner and tool tests."""
import os
import os.path as osp

import cv2
import numpy as np

# (class, quad) per image; integer axis-aligned quads keep the box backend's masks exact.
DEFAULT_OBJECTS = [
    ('plane', (10, 12, 60, 12, 60, 50, 10, 50)),
    ('small-vehicle', (30, 20, 44, 20, 44, 30, 30, 30)),  # lies on the plane: smaller on top
    ('ship', (70, 40, 110, 40, 110, 80, 70, 80)),
]


def write_dota_dataset(root, n_images=6, height=96, width=128, seed=0, objects=None):
    """Write ``images/`` and ``labelTxt/`` of ``n_images`` noise images; return the root.

    Image ``k`` gets the objects shifted right by ``k`` pixels, so every image differs.
    """
    rng = np.random.default_rng(seed)
    objects = DEFAULT_OBJECTS if objects is None else objects
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'labelTxt'), exist_ok=True)
    for k in range(n_images):
        stem = f'img{k:02d}'
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        lines = ['imagesource:test', 'gsd:0.5']
        for name, quad in objects:
            q = np.asarray(quad, dtype=np.float64).reshape(4, 2) + [k % 8, 0]
            cv2.fillConvexPoly(image, np.round(q).astype(np.int32), (200, 200, 200))
            lines.append(' '.join(f'{v:g}' for v in q.reshape(-1)) + f' {name} 0')
        cv2.imwrite(osp.join(root, 'images', stem + '.png'), image)
        with open(osp.join(root, 'labelTxt', stem + '.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return root


def write_config(path, data_root, work_dir, backend='box', engine_extra='', writer_extra='',
                 runner_extra='', source_extra='', prompt_batch_size=8, num_workers=1):
    """Write an annotate config for a DOTA-format dataset; return its path."""
    if backend == 'tiny':
        engine = ("dict(backend='segment_anything', model_type='tiny_test', random_init=True, "
                  f"prompt='hbox', device='cpu', prompt_batch_size={prompt_batch_size!r}" + engine_extra + ")")
    else:
        engine = f"dict(backend='box', prompt='hbox'{engine_extra})"
    text = (f"source = dict(type='dota', ann_dir={osp.join(data_root, 'labelTxt')!r}, "
            f"img_dir={osp.join(data_root, 'images')!r}, class_list='sota'{source_extra})\n"
            f"engine = {engine}\n"
            f"writer = dict(copy_images='copy'{writer_extra})\n"
            f"runner = dict(num_workers={num_workers}, progress=False{runner_extra})\n"
            f"work_dir = {work_dir!r}\n")
    with open(path, 'w') as f:
        f.write(text)
    return path


# Eighteen 14 x 12 planes in three rows: enough prompts per image for the prompt batch size to
# change the tiny SAM's scores or masks in the last float bits.
PLANE_GRID = [('plane', (x, y, x + 14, y, x + 14, y + 12, x, y + 12))
              for x in (4, 24, 44, 64, 84, 104) for y in (6, 40, 74)]


def config_dict(data_root, work_dir, backend='box', prompt_batch_size=8, num_workers=0, **engine_extra):
    """The config :func:`write_config` writes, as a dict for an in-process ``AnnotateRunner``."""
    if backend == 'tiny':
        engine = dict(backend='segment_anything', model_type='tiny_test', random_init=True, prompt='hbox',
                      device='cpu', prompt_batch_size=prompt_batch_size, **engine_extra)
    else:
        engine = dict(backend='box', prompt='hbox', **engine_extra)
    return dict(source=dict(type='dota', ann_dir=osp.join(data_root, 'labelTxt'),
                            img_dir=osp.join(data_root, 'images'), class_list='sota'),
                engine=engine, writer=dict(copy_images='copy'),
                runner=dict(num_workers=num_workers, progress=False), work_dir=str(work_dir))


def tool_main(name):
    """``main`` of a tools/ script, loaded in this process (a tool start costs seconds)."""
    import importlib.util
    path = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def write_coco_with_duplicate_stems(root):
    """A COCO source whose images ``a.png`` and ``a.jpg`` share a stem (plus ``b.png``);
    returns the source config."""
    import json
    os.makedirs(root, exist_ok=True)
    rng = np.random.default_rng(1)
    images, anns = [], []
    for k, name in enumerate(('a.png', 'a.jpg', 'b.png'), start=1):
        cv2.imwrite(osp.join(root, name), rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
        images.append(dict(id=k, file_name=name, width=64, height=48))
        anns.append(dict(id=k, image_id=k, category_id=1, bbox=[4, 4, 20, 16], iscrowd=0, area=320))
    with open(osp.join(root, 'coco.json'), 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=[dict(id=1, name='plane')]), f)
    return dict(type='coco', ann_file=osp.join(root, 'coco.json'), img_dir=root, class_list=['plane'])


def decided_size(work):
    """The prompt batch size a work dir keeps for its one prompt kind (hbox, on CPU)."""
    import json
    folder = osp.join(work, 'prompt_batch_size')
    (name,) = os.listdir(folder)
    with open(osp.join(folder, name)) as f:
        record = json.load(f)
    assert record['prompt'] == 'hbox' and name.endswith('-cpu-hbox.json'), name
    return record['prompt_batch_size']


def tree_files(root, exclude=('logs',)):
    """``{relative path: bytes}`` of every file under ``root`` except the ``exclude`` folders."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = osp.relpath(dirpath, root)
        if rel_dir.split(os.sep)[0] in exclude:
            continue
        for name in filenames:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.normpath(osp.join(rel_dir, name))] = f.read()
    return out
