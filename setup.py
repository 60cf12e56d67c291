"""Packaging for samrs_mm, an OpenMMLab 2.x plugin for SAM-generated remote-sensing labels."""
from pathlib import Path

from setuptools import find_packages, setup


def read_requirements(name):
    """Return the pinned requirement lines of ``requirements/<name>.txt``."""
    lines = Path(__file__).parent.joinpath('requirements', f'{name}.txt').read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith('#')]


setup(
    name='samrs_mm',
    version='0.1.0',
    description='SAMRS for OpenMMLab: SAM-generated segmentation labels from remote-sensing '
                'detection datasets, multi-head segmentation pre-training and fine-tuning',
    long_description=Path(__file__).parent.joinpath('README.md').read_text(encoding='utf-8'),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['samrs_mm', 'samrs_mm.*']),
    python_requires='>=3.9',
    # torch/torchvision and mmcv (built with ops) are installed by scripts/setup_env.sh.
    install_requires=read_requirements('runtime'),
    extras_require={'tests': read_requirements('tests'), 'geo': read_requirements('optional')},
    license='Apache-2.0',
    zip_safe=False,
)
