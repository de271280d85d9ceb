"""Train an SSD detector on a packed dataset.

Example (the bundled model; see model/README.md for the exact command)::

    python train.py --train-rec data/synthetic/train.rec --val-rec data/synthetic/val.rec \\
        --network mobilenet0.5 --data-shape 300 --prefix build/ssd --optimizer adam --lr 0.002
"""
from train.cli import main  # the command's main() applies the runtime defaults before MXNet loads

if __name__ == "__main__":
    raise SystemExit(main())
